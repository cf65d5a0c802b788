// system_fixture: a process whose syscalls and TCP traffic are known exactly,
// for the --syscalls/--tcp tests (Tests/CLITests/SystemTraceTests.swift).
//
//   system_fixture OK REFUSED SEND REPLY GETPPID
//
// Sets up a listener on 127.0.0.1 and a bound, not listening, port (connects
// to it are refused), forks a server child, prints
//   ready PID CHILD_PID LISTEN_PORT REFUSED_PORT
// and waits for a line on stdin. Then, and only then: OK connects to the
// listener, each sending SEND bytes with send() and reading REPLY bytes with
// recv(); REFUSED connects to the refused port (ECONNREFUSED); GETPPID
// getppid syscalls. The child accepts OK connections, reads SEND bytes and
// writes REPLY bytes on each with read()/write(), and exits. The parent prints
// "done" and exits at end of stdin.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what) { perror(what); exit(1); }

static int tcp_socket(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    return fd;
}

static struct sockaddr_in loopback(unsigned short port) {
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static unsigned short bound_port(int fd) {
    struct sockaddr_in a = loopback(0);
    socklen_t len = sizeof(a);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) die("bind");
    if (getsockname(fd, (struct sockaddr *)&a, &len) < 0) die("getsockname");
    return ntohs(a.sin_port);
}

static void serve(int listener, int count, size_t want, size_t reply) {
    char *buf = calloc(1, want > reply ? want : reply);
    for (int i = 0; i < count; i++) {
        int c = accept(listener, NULL, NULL);
        if (c < 0) die("accept");
        for (size_t got = 0; got < want;) {
            ssize_t n = read(c, buf, want - got);
            if (n <= 0) die("read");
            got += (size_t)n;
        }
        for (size_t sent = 0; sent < reply;) {
            ssize_t n = write(c, buf, reply - sent);
            if (n <= 0) die("write");
            sent += (size_t)n;
        }
        close(c);
    }
    exit(0);
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s OK REFUSED SEND REPLY GETPPID\n", argv[0]);
        return 2;
    }
    int ok = atoi(argv[1]), refused = atoi(argv[2]), getppids = atoi(argv[5]);
    size_t send_bytes = strtoul(argv[3], NULL, 10), reply_bytes = strtoul(argv[4], NULL, 10);

    int listener = tcp_socket();
    unsigned short listen_port = bound_port(listener);
    if (listen(listener, 128) < 0) die("listen");
    int closed = tcp_socket();   // bound, never listening: a SYN to it gets a RST
    unsigned short refused_port = bound_port(closed);

    pid_t child = fork();
    if (child < 0) die("fork");
    if (child == 0) serve(listener, ok, send_bytes, reply_bytes);

    printf("ready %d %d %u %u\n", getpid(), child, listen_port, refused_port);
    fflush(stdout);
    char line[64];
    if (!fgets(line, sizeof(line), stdin)) return 1;

    char *buf = calloc(1, send_bytes > reply_bytes ? send_bytes : reply_bytes);
    struct sockaddr_in to = loopback(listen_port);
    for (int i = 0; i < ok; i++) {
        int fd = tcp_socket();
        if (connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0) die("connect");
        if (send(fd, buf, send_bytes, 0) != (ssize_t)send_bytes) die("send");
        for (size_t got = 0; got < reply_bytes;) {
            ssize_t n = recv(fd, buf, reply_bytes - got, 0);
            if (n <= 0) die("recv");
            got += (size_t)n;
        }
        close(fd);
    }
    struct sockaddr_in nowhere = loopback(refused_port);
    for (int i = 0; i < refused; i++) {
        int fd = tcp_socket();
        if (connect(fd, (struct sockaddr *)&nowhere, sizeof(nowhere)) == 0 || errno != ECONNREFUSED) die("refused connect");
        close(fd);
    }
    for (int i = 0; i < getppids; i++) syscall(SYS_getppid);

    printf("done\n");
    fflush(stdout);
    while (fgets(line, sizeof(line), stdin)) {}
    waitpid(child, NULL, 0);
    return 0;
}
