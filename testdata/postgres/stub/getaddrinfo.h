#include <netdb.h> /* struct addrinfo; the server headers pg_offsets.c does not need are not installed */
