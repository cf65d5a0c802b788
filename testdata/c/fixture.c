// C fixture for the Symbols tests: a few functions and objects of each kind,
// built PIE and non-PIE by ../build.sh. With "--print", it prints the runtime
// address of its own functions and objects, then (with "--wait") sleeps so a
// test can read /proc/PID/maps and compare with `symbols dump --pid`.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fixture_counter = 7;           // .data
static int fixture_hidden_state;   // .bss (local)
const char fixture_banner[] = "uprobe-trace fixture";  // .rodata

__attribute__((noinline)) int fixture_add(int a, int b) {
    fixture_counter++;
    return a + b;
}

__attribute__((noinline)) static int fixture_static_mul(int a, int b) {
    fixture_hidden_state += a;
    return a * b;
}

__attribute__((noinline, weak)) int fixture_weak(int x) { return x + 1; }

// Called once per line read from stdin when run with "--loop": the target of
// the uprobe test.
__attribute__((noinline)) int fixture_probe_target(const char *line) {
    return (int)strlen(line);
}

int main(int argc, char **argv) {
    int print = 0, wait = 0, loop = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--print")) print = 1;
        if (!strcmp(argv[i], "--wait")) wait = 1;
        if (!strcmp(argv[i], "--loop")) loop = 1;
    }
    if (print) {
        printf("fixture_add %p\n", (void *)fixture_add);
        printf("fixture_static_mul %p\n", (void *)fixture_static_mul);
        printf("fixture_weak %p\n", (void *)fixture_weak);
        printf("fixture_probe_target %p\n", (void *)fixture_probe_target);
        printf("main %p\n", (void *)main);
        printf("fixture_counter %p\n", (void *)&fixture_counter);
        printf("fixture_banner %p\n", (void *)fixture_banner);
        printf("ready\n");
        fflush(stdout);
    }
    if (loop) {
        char buf[256];
        int total = 0;
        while (fgets(buf, sizeof buf, stdin)) {
            total += fixture_probe_target(buf);
            printf("ok %d\n", total);
            fflush(stdout);
        }
    }
    if (wait) {
        char c;
        while (read(0, &c, 1) > 0) {}
    }
    return fixture_add(fixture_static_mul(2, 3), fixture_weak(1)) == 8 ? 0 : 1;
}
