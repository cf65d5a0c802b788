/*
 * pg_offsets.c — the ground truth for PostgresLayout: prints offsetof() of the
 * fields the libpq probes read, from libpq-dev's own internal header
 * (libpq-int.h), in the order of struct ut_pg_offsets:
 *   resultStatus errFields next code contents dbName asyncStatus
 * Built by PostgresLayoutTests with gcc -I/usr/include/postgresql
 * -I/usr/include/postgresql/internal -I stub (stub/: headers of the server
 * package that libpq-int.h includes but libpq-dev does not ship).
 */
#include <stddef.h>
#include <stdio.h>
#include "postgres_fe.h"
#include "libpq-int.h"
#undef printf

int main(void) {
    printf("%zu %zu %zu %zu %zu %zu %zu\n", offsetof(PGresult, resultStatus), offsetof(PGresult, errFields),
           offsetof(PGMessageField, next), offsetof(PGMessageField, code), offsetof(PGMessageField, contents),
           offsetof(PGconn, dbName), offsetof(PGconn, asyncStatus));
    return 0;
}
