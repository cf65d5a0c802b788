// syscall_loop N: prints its pid, waits for a stdin line, makes N getppid
// syscalls, prints the thread CPU nanoseconds per call (CLOCK_THREAD_CPUTIME_ID: the kernel-side work of a syscall, tracepoint programs included, runs on the calling thread), and repeats
// for every further line. For Benchmarks/syscall-cost.sh.
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    printf("%d\n", getpid());
    fflush(stdout);
    char line[64];
    while (fgets(line, sizeof(line), stdin)) {
        struct timespec a, b;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
        for (long i = 0; i < n; i++) syscall(SYS_getppid);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
        printf("%.1f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n);
        fflush(stdout);
    }
    return 0;
}
