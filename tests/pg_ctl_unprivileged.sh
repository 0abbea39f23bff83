#!/bin/sh
# pg_ctl for pytest-postgresql's postgresql_proc (tests/store_fixtures.py). PostgreSQL refuses to run as root, and
# CI runs as root: then the folders pg_ctl writes (-D/--pgdata, -l) are given to an unprivileged user (ICTGIS_PG_USER,
# default postgres), their parents made traversable, and pg_ctl runs as that user. Otherwise pg_ctl runs as is.
PG_CTL="${ICTGIS_PG_CTL:-/usr/lib/postgresql/15/bin/pg_ctl}"
if [ "$(id -u)" != 0 ]; then exec "$PG_CTL" "$@"; fi
USER_NAME="${ICTGIS_PG_USER:-postgres}"
prev=""
for arg in "$@"; do
  case "$prev" in
    -D|--pgdata|-l|--log)
      if [ "$prev" = -l ] || [ "$prev" = --log ]; then
        mkdir -p "$(dirname "$arg")"; touch "$arg"
      else
        mkdir -p "$arg"; chmod 700 "$arg"
      fi
      chown "$USER_NAME" "$arg"
      dir=$(dirname "$arg")
      while [ "$dir" != / ]; do chmod o+x "$dir"; dir=$(dirname "$dir"); done
      ;;
  esac
  prev="$arg"
done
cd /
exec runuser -u "$USER_NAME" -- "$PG_CTL" "$@"
