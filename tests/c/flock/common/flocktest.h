/*
 * flocktest.h -- the small harness shared by the Flock C conformance tests.
 *
 * Every test program is a table of named cases:
 *
 *   prog --list                  prints the case names, one a line
 *   prog PROTOCOL CASE           runs one case in this process (what ctest does)
 *   prog PROTOCOL                runs every case, each in a forked child
 *
 * PROTOCOL is the margo protocol the case uses for its instances ("na+sm",
 * "ofi+tcp"); cases that do no networking ignore it. A case reports through
 * the CHECK macros; it passes when no check failed. Exit status: 0 pass,
 * 1 failure, FT_SKIP (77) when the case cannot run here (e.g. the protocol
 * is not available), which CMake maps to a skipped test.
 */
#ifndef FLOCKTEST_H
#define FLOCKTEST_H

#include <margo.h>
#include <flock/flock-common.h>
#include <flock/flock-group-view.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define FT_SKIP 77

/* ---- results ----------------------------------------------------------- */

extern int         ft_failures;
extern int         ft_checks;
extern const char* ft_protocol;

void ft_fail(const char* file, int line, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Name of a flock_return_t value ("FLOCK_ERR_INVALID_ARGS"), or "?". */
const char* ft_code_name(int code);

#define CHECK(cond)                                                       \
    do {                                                                  \
        ++ft_checks;                                                      \
        if (!(cond)) ft_fail(__FILE__, __LINE__, "check failed: %s", #cond); \
    } while (0)

#define CHECK_MSG(cond, ...)                                              \
    do {                                                                  \
        ++ft_checks;                                                      \
        if (!(cond)) ft_fail(__FILE__, __LINE__, __VA_ARGS__);            \
    } while (0)

/* Evaluates expr once; fails unless it equals the expected flock code. */
#define CHECK_RC(expr, expected)                                          \
    do {                                                                  \
        int ft_rc_ = (int)(expr);                                         \
        int ft_ex_ = (int)(expected);                                     \
        ++ft_checks;                                                      \
        if (ft_rc_ != ft_ex_)                                             \
            ft_fail(__FILE__, __LINE__, "%s returned %d (%s), expected %d (%s)", \
                    #expr, ft_rc_, ft_code_name(ft_rc_), ft_ex_,          \
                    ft_code_name(ft_ex_));                                \
    } while (0)

#define CHECK_OK(expr) CHECK_RC(expr, FLOCK_SUCCESS)

/* Like CHECK_RC but returns from the enclosing void function on mismatch
 * (for set-up steps the rest of the case depends on). */
#define REQUIRE_RC(expr, expected)                                        \
    do {                                                                  \
        int ft_before_ = ft_failures;                                     \
        CHECK_RC(expr, expected);                                         \
        if (ft_failures != ft_before_) return;                            \
    } while (0)
#define REQUIRE_OK(expr) REQUIRE_RC(expr, FLOCK_SUCCESS)

#define REQUIRE(cond)                                                     \
    do {                                                                  \
        int ft_before_ = ft_failures;                                     \
        CHECK(cond);                                                      \
        if (ft_failures != ft_before_) return;                            \
    } while (0)

#define CHECK_STR(actual, expected)                                       \
    do {                                                                  \
        const char* ft_a_ = (actual);                                     \
        const char* ft_e_ = (expected);                                   \
        ++ft_checks;                                                      \
        if (!ft_a_ || !ft_e_ || strcmp(ft_a_, ft_e_) != 0)                \
            ft_fail(__FILE__, __LINE__, "%s is \"%s\", expected \"%s\"", #actual, \
                    ft_a_ ? ft_a_ : "(null)", ft_e_ ? ft_e_ : "(null)");  \
    } while (0)

#define CHECK_U64(actual, expected)                                       \
    do {                                                                  \
        unsigned long long ft_a_ = (unsigned long long)(actual);          \
        unsigned long long ft_e_ = (unsigned long long)(expected);        \
        ++ft_checks;                                                      \
        if (ft_a_ != ft_e_)                                               \
            ft_fail(__FILE__, __LINE__, "%s is %llu, expected %llu", #actual, ft_a_, ft_e_); \
    } while (0)

/* ---- cases and main ---------------------------------------------------- */

typedef struct {
    const char* name;
    void (*fn)(void);
} ft_case;

/* The whole main() of a test program. */
int ft_main(int argc, char** argv, const ft_case* cases, size_t ncases);

/* Names the case in failure messages (for programs without ft_main). */
void ft_set_case(const char* name);

/* Marks the running case as skipped (returns FT_SKIP unless a check failed). */
void ft_skip(const char* why);

/* ---- margo helpers ----------------------------------------------------- */

/* A server-mode (or client-mode) instance on ft_protocol; NULL on failure
 * (a check failure is recorded). */
margo_instance_id ft_margo_server(void);
margo_instance_id ft_margo_client(void);

/* The instance's own address as text (static buffer per call site is not
 * needed: the caller gives the buffer). Returns buf, or "" on error. */
char* ft_self_address(margo_instance_id mid, char* buf, size_t size);

/* Looks up an address; HG_ADDR_NULL on failure (check failure recorded). */
hg_addr_t ft_lookup(margo_instance_id mid, const char* address);

/* ---- files ------------------------------------------------------------- */

/* Creates a fresh directory under $TMPDIR (or /tmp) and returns its path
 * (static storage, valid until the next call). Removed at exit. */
const char* ft_tmpdir(void);

/* Reads a whole file (malloc'd, NUL-terminated); NULL if unreadable. */
char* ft_read_file(const char* path, size_t* len);

/* Writes len bytes to path (mode 0644); true on success. */
bool ft_write_file(const char* path, const char* data, size_t len);

/* Directory of the test data (set by CMake as FT_DATA_DIR). */
const char* ft_data_dir(void);

/* ---- views ------------------------------------------------------------- */

/* flock_group_view_serialize into a malloc'd NUL-terminated string; also
 * reports how many times the serializer was called through *calls (may be
 * NULL). NULL if serialization failed. */
char* ft_serialize(const flock_group_view_t* view, int* calls);

/* Digest recomputed from the content (members and metadata). */
uint64_t ft_recompute_digest(const flock_group_view_t* view);

/* Prints the view on stderr (for diagnostics). */
void ft_dump_view(const char* title, const flock_group_view_t* view);

/* Monotonic time in milliseconds. */
double ft_now_ms(void);
void   ft_sleep_ms(int ms);


/* ---- groups of in-process providers ------------------------------------ */

#include <flock/flock-server.h>
#include <flock/flock-client.h>
#include <flock/flock-group.h>

#define FT_MAX_MEMBERS 8

/* n server-mode margo instances, one static provider on each, all sharing
 * one initial view listing every (address, provider id). */
typedef struct {
    int               n;
    margo_instance_id mids[FT_MAX_MEMBERS];
    char              addrs[FT_MAX_MEMBERS][256];
    uint16_t          pids[FT_MAX_MEMBERS];
    flock_provider_t  providers[FT_MAX_MEMBERS];
} ft_group;

/* Starts the group: config is every provider's config (NULL:
 * {"group":{"type":"static"}}); metadata pairs
 * (key, value, ..., NULL) are added to the initial view. Returns false (and
 * records a failure) if anything went wrong; ft_group_stop cleans up. */
bool ft_group_start(ft_group* g, int n, const uint16_t* pids, const char* config,
                    const char* const* metadata);
void ft_group_stop(ft_group* g);

/* Index of the member that sorts first in the view (the group-file writer). */
int ft_group_first(const ft_group* g);

/* Creates a client on mid and a handle on (address, pid) with mode, copies
 * its view into *view; returns the first failing flock code. */
int ft_fetch_view(margo_instance_id mid, const char* address, uint16_t pid, uint32_t mode,
                  flock_group_view_t* view);

/* The one-member view (own address, pid). */
void ft_self_view(margo_instance_id mid, uint16_t pid, flock_group_view_t* view);

#endif /* FLOCKTEST_H */
