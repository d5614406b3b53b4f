"""bench/results.md keeps every benchmark's section: one rewrites its own only."""

from __future__ import annotations

from bench.results_file import replace_section, write_section

# As `make bench` wrote the file before sections had markers, with another benchmark's after it.
LEGACY = """# Benchmarks (vm: 2 cores)

| set-up | answered/s |
|---|---|
| bare | 58.26 |

## Reports over 1,000,000 messages (2026-12-04)

| report | median ms |
|---|---|
| 30 days | 3212 |

## Fuzzing (2026-12-04)

no crash in 10,000 inputs
"""


def test_a_run_replaces_its_own_section_and_keeps_the_others(tmp_path):
    path = tmp_path / "results.md"
    path.write_text(LEGACY)
    write_section(path, "run", "# Benchmarks (vm: 4 cores)\n\n| bare | 61.00 |", legacy_heading="# Benchmarks")
    first = path.read_text()
    assert "58.26" not in first and "61.00" in first
    assert "## Reports over 1,000,000 messages" in first and "| 30 days | 3212 |" in first
    assert "## Fuzzing (2026-12-04)" in first and "no crash in 10,000 inputs" in first

    write_section(path, "reports", "## Reports over 1,000,000 messages (2026-12-05)\n\n| 30 days | 640 |",
                  legacy_heading="## Reports over")
    write_section(path, "run", "# Benchmarks (vm: 8 cores)\n\n| bare | 70.00 |", legacy_heading="# Benchmarks")
    second = path.read_text()
    assert "61.00" not in second and "70.00" in second and second.count("# Benchmarks") == 1
    assert "3212" not in second and "| 30 days | 640 |" in second and second.count("## Reports over") == 1
    assert "no crash in 10,000 inputs" in second
    # The order of the sections is kept.
    assert second.index("70.00") < second.index("640") < second.index("Fuzzing")


def test_a_new_section_goes_at_the_end():
    assert replace_section("", "run", "# Benchmarks") == "<!-- bench:run -->\n# Benchmarks\n<!-- /bench:run -->\n"
    assert replace_section("## Fuzzing\n", "reports", "## Reports").startswith("## Fuzzing\n\n<!-- bench:reports -->")
