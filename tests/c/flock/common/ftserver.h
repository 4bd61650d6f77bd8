/*
 * ftserver.h -- run flock-test-server in child processes (fork + exec) and
 * talk to them line by line (see flock-test-server.c for the protocol).
 * The server program is found through $FT_SERVER (set by CMake) or next to
 * the test program.
 */
#ifndef FTSERVER_H
#define FTSERVER_H

#include "flocktest.h"
#include <sys/types.h>

typedef struct {
    pid_t pid;
    int   to_child;   /* its stdin */
    int   from_child; /* its stdout */
    char  address[256];
    uint16_t provider_id;
    char* log;        /* every line received so far, '\n'-separated */
    size_t log_len;
    size_t scanned;   /* bytes of log already returned by ft_server_wait_prefix */
    char  partial[4096];
    size_t partial_len;
} ft_server;

/* Starts a server on ft_protocol with this provider id and waits (up to
 * 20 s) for its address. */
bool ft_server_spawn(ft_server* s, const char* argv0, uint16_t provider_id);

/* Sends one line (a newline is appended). */
bool ft_server_send(ft_server* s, const char* line);

/* Waits up to timeout_ms for a line (received after the last call of this
 * function) starting with prefix; copies it into buf. */
bool ft_server_wait_prefix(ft_server* s, const char* prefix, char* buf, size_t size,
                           int timeout_ms);

/* Waits up to timeout_ms for this exact line anywhere in the log. */
bool ft_server_wait_line(ft_server* s, const char* line, int timeout_ms);

/* Whether the exact line was received (reads what is pending, no wait). */
bool ft_server_has_line(ft_server* s, const char* line);

/* QUIT, close stdin, wait up to 20 s; returns the exit status (-1: killed
 * or timed out, then SIGKILLed). */
int ft_server_stop(ft_server* s);

/* SIGKILL and reap. */
void ft_server_kill(ft_server* s);

#endif
