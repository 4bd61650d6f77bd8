// The platform's floor for a client that spreads its calls over several
// server processes (benches/wake-floor.sh): no library, no network stack,
// just shared memory and futexes. The client writes a request word and
// wakes the server's futex if the server sleeps, then polls for the answer
// (as an RPC caller does for its first microseconds). Each server answers
// and then polls for its next request for POLL_US microseconds (0: blocks
// at once) before it sleeps on its futex.
//
// usage: wake SERVERS CALLS POLL_US   prints median and p99 in microseconds
#define _GNU_SOURCE
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct slot {
    _Atomic uint32_t request;  // sequence number of the last request
    _Atomic uint32_t sleeping; // 1 while the server is (about to be) in futex_wait
    _Atomic uint32_t answer;   // sequence number of the last answer
    char pad[64 - 12];
};

static long futex(_Atomic uint32_t *word, int op, uint32_t val) {
    return syscall(SYS_futex, (uint32_t *)word, op, val, NULL, NULL, 0);
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void serve(struct slot *s, uint64_t poll_ns) {
    uint32_t seen = 0;
    for (;;) {
        uint64_t until = now_ns() + poll_ns;
        uint32_t r;
        while ((r = atomic_load(&s->request)) == seen && now_ns() < until) {
        }
        while ((r = atomic_load(&s->request)) == seen) {
            atomic_store(&s->sleeping, 1);
            if (atomic_load(&s->request) == seen) futex(&s->request, FUTEX_WAIT, seen);
            atomic_store(&s->sleeping, 0);
        }
        if (r == UINT32_MAX) return;
        seen = r;
        atomic_store(&s->answer, r);
    }
}

static int cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s SERVERS CALLS POLL_US\n", argv[0]);
        return 2;
    }
    int servers = atoi(argv[1]);
    int calls = atoi(argv[2]);
    uint64_t poll_ns = strtoull(argv[3], NULL, 10) * 1000u;
    if (servers < 1 || servers > 64 || calls < 100) {
        fprintf(stderr, "SERVERS from 1 to 64, CALLS at least 100\n");
        return 2;
    }
    struct slot *slots = mmap(NULL, sizeof(struct slot) * servers, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (slots == MAP_FAILED) return 1;
    memset(slots, 0, sizeof(struct slot) * servers);
    for (int i = 0; i < servers; i++) {
        if (fork() == 0) {
            serve(&slots[i], poll_ns);
            _exit(0);
        }
    }
    uint64_t *t = calloc(calls, sizeof *t);
    if (t == NULL) return 1;
    uint32_t seq[64] = {0};
    for (int c = -1000; c < calls; c++) { // the first 1000 warm up
        int i = (c + 1000) % servers;
        struct slot *s = &slots[i];
        uint64_t start = now_ns();
        uint32_t r = ++seq[i];
        atomic_store(&s->request, r);
        if (atomic_load(&s->sleeping)) futex(&s->request, FUTEX_WAKE, 1);
        while (atomic_load(&s->answer) != r) {
        }
        if (c >= 0) t[c] = now_ns() - start;
    }
    for (int i = 0; i < servers; i++) {
        atomic_store(&slots[i].request, UINT32_MAX);
        futex(&slots[i].request, FUTEX_WAKE, 1);
    }
    while (wait(NULL) > 0) {
    }
    qsort(t, calls, sizeof *t, cmp);
    printf("servers %d poll %3llu us: median %7.2f us  p99 %7.2f us\n", servers, (unsigned long long)(poll_ns / 1000),
           t[calls / 2] / 1e3, t[(size_t)calls * 99 / 100] / 1e3);
    return 0;
}
