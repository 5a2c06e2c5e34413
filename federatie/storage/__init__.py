"""PostgreSQL through asyncpg: the pool, the embedded server, migrations, and SQL per aggregate."""
