"""The Reputation page's server-rendered charts: coordinates from the series."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from bot.reputation import charts
from bot.storage.reputation import SeriesPoint

START = datetime(2026, 12, 4, 0, tzinfo=timezone.utc)
HOURS = [START + timedelta(hours=n) for n in range(5)]


def label(bucket: datetime) -> str:
    return bucket.strftime("%H:00")


def test_an_hour_without_posts_breaks_the_line_of_a_share_but_is_zero_volume():
    points = [SeriesPoint("facebook", HOURS[0], 4, 1, -0.2), SeriesPoint("facebook", HOURS[1], 2, 2, -0.7),
              SeriesPoint("facebook", HOURS[3], 4, 0, 0.3), SeriesPoint("facebook", HOURS[4], 4, 4, -0.9)]
    share = charts.chart("Share negative", points, HOURS, ["facebook"], charts.share_negative, 0.0, 1.0,
                         lambda v: f"{round(100 * v)}%", label)
    (line,) = share.lines
    assert len(line.segments) == 2 and len(line.dots) == 4
    assert [d[2] for d in line.dots] == ["facebook 00:00: 25%", "facebook 01:00: 100%", "facebook 03:00: 0%",
                                         "facebook 04:00: 100%"]
    # 100% is the top of the plot, 0% its bottom.
    assert line.dots[1][1] == charts.PAD and line.dots[2][1] == charts.HEIGHT - charts.PAD
    volume = charts.chart("Public posts", points, HOURS, ["facebook"], charts.volume, 0.0, None, str, label,
                          zero_missing=True)
    assert len(volume.lines[0].segments) == 1 and len(volume.lines[0].dots) == 5 and volume.y_top == "4.0"


def test_the_mean_score_chart_has_its_zero_line_in_the_middle_and_no_posts_is_empty():
    mean = charts.chart("Mean", [SeriesPoint("x", HOURS[2], 1, 1, -0.5)], HOURS, ["x"], charts.mean_score,
                        -1.0, 1.0, lambda v: f"{v:+.2f}", label)
    assert mean.zero_y == charts.HEIGHT / 2 and mean.y_bottom == "-1.00" and not mean.empty
    assert charts.chart("Mean", [], HOURS, [], charts.mean_score, -1.0, 1.0, str, label).empty
