/*
 * The floor under our ofi+tcp numbers: two processes passing a 64-byte
 * message back and forth over a loopback TCP connection with plain
 * blocking send/recv, no library in between. What an RPC engine over tcp
 * cannot beat on this machine, quiet or beside busy loops.
 *
 *   pingpong server PORT
 *   pingpong client PORT COUNT      prints median, p99, p999, calls > 1 ms
 *
 * POLL_US=N: read with MSG_DONTWAIT for up to N µs before a blocking read
 * (a poll made of system calls, as a tcp progress loop is).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { MSG = 64, WARMUP = 100 };

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static long poll_us;

/* Reads exactly n bytes; exits quietly when the peer closes. */
static void read_all(int fd, char *buf, size_t n) {
    size_t got = 0;
    double start = poll_us > 0 ? now_us() : 0;
    while (got < n) {
        int flags = (poll_us > 0 && now_us() - start < poll_us) ? MSG_DONTWAIT : 0;
        ssize_t r = recv(fd, buf + got, n - got, flags);
        if (r > 0)
            got += (size_t)r;
        else if (r < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        else
            exit(0);
    }
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 3 || (strcmp(argv[1], "client") == 0 && argc < 4)) {
        fprintf(stderr, "usage: %s server PORT | client PORT COUNT\n", argv[0]);
        return 2;
    }
    const char *p = getenv("POLL_US");
    poll_us = p ? atol(p) : 0;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2]))};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    char buf[MSG] = {0};
    if (strcmp(argv[1], "server") == 0) {
        int l = socket(AF_INET, SOCK_STREAM, 0);
        setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(l, (struct sockaddr *)&addr, sizeof addr) || listen(l, 1)) {
            perror("bind/listen");
            return 1;
        }
        int s = accept(l, NULL, NULL);
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        for (;;) {
            read_all(s, buf, MSG);
            if (send(s, buf, MSG, 0) != MSG) return 1;
        }
    }
    int s = socket(AF_INET, SOCK_STREAM, 0);
    for (int tries = 0; connect(s, (struct sockaddr *)&addr, sizeof addr) != 0; tries++) {
        if (tries == 500) {
            perror("connect");
            return 1;
        }
        usleep(10000); /* the server is starting: bench set-up only */
    }
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int count = atoi(argv[3]);
    if (count < 1) count = 1;
    double *rtt = malloc(sizeof(double) * (size_t)count);
    int over = 0;
    for (int i = 0; i < count + WARMUP; i++) {
        double t = now_us();
        if (send(s, buf, MSG, 0) != MSG) return 1;
        read_all(s, buf, MSG);
        if (i >= WARMUP) {
            rtt[i - WARMUP] = now_us() - t;
            over += rtt[i - WARMUP] > 1000;
        }
    }
    qsort(rtt, (size_t)count, sizeof(double), by_value);
    printf("median_us=%.1f p99_us=%.1f p999_us=%.1f over_1ms=%d\n", rtt[count / 2], rtt[(int)(count * 0.99)],
           rtt[(int)(count * 0.999)], over);
    return 0;
}
