"""Everything that speaks SQL: models, migrations, and the queries of each component."""
