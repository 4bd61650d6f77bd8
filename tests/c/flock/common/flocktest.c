/* The harness declared in flocktest.h. */
#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700
#include "flocktest.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int         ft_failures = 0;
int         ft_checks   = 0;
const char* ft_protocol = "na+sm";

static int         skipped      = 0;
static const char* current_case = "?";

void ft_fail(const char* file, int line, const char* fmt, ...)
{
    va_list ap;
    ++ft_failures;
    fprintf(stderr, "%s:%d: [%s] ", file, line, current_case);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

const char* ft_code_name(int code)
{
    switch (code) {
#define X(name, msg) case name: return #name;
        FLOCK_RETURN_VALUES
#undef X
    default: return "?";
    }
}

void ft_set_case(const char* name)
{
    current_case = name;
}

void ft_skip(const char* why)
{
    skipped = 1;
    fprintf(stderr, "[%s] skipped: %s\n", current_case, why);
}

/* ---- temporary directories -------------------------------------------- */

#define FT_MAX_TMPDIRS 32
static char  tmpdirs[FT_MAX_TMPDIRS][256];
static int   ntmpdirs    = 0;
static pid_t tmpdir_owner = 0;

static int rm_entry(const char* path, const struct stat* sb, int flag, struct FTW* ftw)
{
    (void)sb; (void)flag; (void)ftw;
    remove(path);
    return 0;
}

static void remove_tmpdirs(void)
{
    if (getpid() != tmpdir_owner) return; /* a forked child: not ours */
    if (getenv("FT_KEEP_TMP")) return;
    for (int i = 0; i < ntmpdirs; ++i)
        nftw(tmpdirs[i], rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char* ft_tmpdir(void)
{
    if (ntmpdirs == FT_MAX_TMPDIRS) {
        ft_fail(__FILE__, __LINE__, "too many temporary directories");
        return "/nonexistent";
    }
    const char* base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    char* slot = tmpdirs[ntmpdirs];
    snprintf(slot, sizeof(tmpdirs[0]), "%s/flocktest.XXXXXX", base);
    if (!mkdtemp(slot)) {
        ft_fail(__FILE__, __LINE__, "mkdtemp(%s): %s", slot, strerror(errno));
        return "/nonexistent";
    }
    if (ntmpdirs == 0 || tmpdir_owner != getpid()) {
        tmpdir_owner = getpid();
        atexit(remove_tmpdirs);
    }
    ++ntmpdirs;
    return slot;
}

char* ft_read_file(const char* path, size_t* len)
{
    FILE* f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char*  buf = malloc(cap);
    if (!buf) { fclose(f); return NULL; }
    for (;;) {
        if (n + 1 >= cap) {
            char* nb = realloc(buf, cap * 2);
            if (!nb) { free(buf); fclose(f); return NULL; }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        if (r == 0) break;
        n += r;
    }
    int err = ferror(f);
    fclose(f);
    if (err) { free(buf); return NULL; }
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

bool ft_write_file(const char* path, const char* data, size_t len)
{
    FILE* f = fopen(path, "wb");
    if (!f) return false;
    bool ok = fwrite(data, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    return ok;
}

const char* ft_data_dir(void)
{
#ifdef FT_DATA_DIR
    return FT_DATA_DIR;
#else
    return "data";
#endif
}

/* ---- margo ------------------------------------------------------------- */

static margo_instance_id margo_any(int mode)
{
    margo_instance_id mid = margo_init(ft_protocol, mode, 0, 0);
    if (mid == MARGO_INSTANCE_NULL)
        ft_fail(__FILE__, __LINE__, "margo_init(\"%s\", %s) failed", ft_protocol,
                mode == MARGO_SERVER_MODE ? "MARGO_SERVER_MODE" : "MARGO_CLIENT_MODE");
    return mid;
}

margo_instance_id ft_margo_server(void) { return margo_any(MARGO_SERVER_MODE); }
margo_instance_id ft_margo_client(void) { return margo_any(MARGO_CLIENT_MODE); }

char* ft_self_address(margo_instance_id mid, char* buf, size_t size)
{
    hg_addr_t self = HG_ADDR_NULL;
    buf[0]         = '\0';
    if (margo_addr_self(mid, &self) != HG_SUCCESS) {
        ft_fail(__FILE__, __LINE__, "margo_addr_self failed");
        return buf;
    }
    hg_size_t sz = size;
    if (margo_addr_to_string(mid, buf, &sz, self) != HG_SUCCESS) {
        ft_fail(__FILE__, __LINE__, "margo_addr_to_string failed");
        buf[0] = '\0';
    }
    margo_addr_free(mid, self);
    return buf;
}

hg_addr_t ft_lookup(margo_instance_id mid, const char* address)
{
    hg_addr_t a = HG_ADDR_NULL;
    if (margo_addr_lookup(mid, address, &a) != HG_SUCCESS) {
        ft_fail(__FILE__, __LINE__, "margo_addr_lookup(%s) failed", address);
        return HG_ADDR_NULL;
    }
    return a;
}

/* ---- views ------------------------------------------------------------- */

typedef struct {
    char* text;
    int   calls;
} ser_ctx;

static void ser_cb(void* uargs, const char* str, size_t len)
{
    ser_ctx* c = uargs;
    c->calls++;
    free(c->text);
    c->text = malloc(len + 1);
    if (c->text) {
        memcpy(c->text, str, len);
        c->text[len] = '\0';
    }
}

char* ft_serialize(const flock_group_view_t* view, int* calls)
{
    ser_ctx c = {NULL, 0};
    int     rc = flock_group_view_serialize(view, ser_cb, &c);
    if (calls) *calls = c.calls;
    if (rc != FLOCK_SUCCESS) {
        free(c.text);
        return NULL;
    }
    return c.text;
}

uint64_t ft_recompute_digest(const flock_group_view_t* v)
{
    uint64_t d = 0;
    for (uint64_t i = 0; i < v->members.size; ++i)
        d ^= flock_hash_member(v->members.data[i].provider_id, v->members.data[i].address);
    for (uint64_t i = 0; i < v->metadata.size; ++i)
        d ^= flock_hash_metadata(v->metadata.data[i].key, v->metadata.data[i].value);
    return d;
}

void ft_dump_view(const char* title, const flock_group_view_t* v)
{
    fprintf(stderr, "  %s: %llu member(s), %llu metadata, digest %llu\n", title,
            (unsigned long long)v->members.size, (unsigned long long)v->metadata.size,
            (unsigned long long)v->digest);
    for (uint64_t i = 0; i < v->members.size; ++i)
        fprintf(stderr, "    member %s (%u)\n", v->members.data[i].address,
                (unsigned)v->members.data[i].provider_id);
    for (uint64_t i = 0; i < v->metadata.size; ++i)
        fprintf(stderr, "    meta %s = %s\n", v->metadata.data[i].key, v->metadata.data[i].value);
}

double ft_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void ft_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* ---- main -------------------------------------------------------------- */

static int run_case(const ft_case* c)
{
    current_case = c->name;
    ft_failures  = 0;
    ft_checks    = 0;
    skipped      = 0;
    double t0    = ft_now_ms();
    c->fn();
    double dt = ft_now_ms() - t0;
    if (ft_failures) {
        printf("[ FAIL ] %s (%d of %d checks failed, %.0f ms)\n", c->name, ft_failures,
               ft_checks, dt);
        fflush(stdout);
        return 1;
    }
    if (skipped) {
        printf("[ SKIP ] %s\n", c->name);
        fflush(stdout);
        return FT_SKIP;
    }
    printf("[  OK  ] %s (%d checks, %.0f ms)\n", c->name, ft_checks, dt);
    fflush(stdout);
    return 0;
}

static void usage(const char* prog)
{
    fprintf(stderr, "usage: %s --list | PROTOCOL [CASE]\n", prog);
}

int ft_main(int argc, char** argv, const ft_case* cases, size_t ncases)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN); /* a dead child server must not kill the test */
    if (argc < 2) {
        usage(argv[0]);
        return 2;
    }
    if (strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < ncases; ++i) printf("%s\n", cases[i].name);
        return 0;
    }
    ft_protocol = argv[1];
    if (argc >= 3) {
        for (size_t i = 0; i < ncases; ++i)
            if (strcmp(cases[i].name, argv[2]) == 0) return run_case(&cases[i]);
        fprintf(stderr, "%s: no case named %s\n", argv[0], argv[2]);
        return 2;
    }
    /* every case, each in its own child process */
    int failed = 0;
    for (size_t i = 0; i < ncases; ++i) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            alarm(180);
            exit(run_case(&cases[i]));
        }
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        if (WIFSIGNALED(status)) {
            printf("[CRASH ] %s (signal %d)\n", cases[i].name, WTERMSIG(status));
            ++failed;
        } else if (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != FT_SKIP) {
            ++failed;
        }
    }
    printf("%zu case(s), %d failed\n", ncases, failed);
    return failed ? 1 : 0;
}

/* ---- groups ------------------------------------------------------------ */

bool ft_group_start(ft_group* g, int n, const uint16_t* pids, const char* config,
                    const char* const* metadata)
{
    memset(g, 0, sizeof(*g));
    if (n > FT_MAX_MEMBERS) {
        ft_fail(__FILE__, __LINE__, "group too large");
        return false;
    }
    for (int i = 0; i < n; ++i) {
        g->mids[i] = ft_margo_server();
        if (g->mids[i] == MARGO_INSTANCE_NULL) return false;
        g->n       = i + 1;
        g->pids[i] = pids[i];
        ft_self_address(g->mids[i], g->addrs[i], sizeof(g->addrs[i]));
    }
    for (int i = 0; i < n; ++i) {
        flock_group_view_t view = FLOCK_GROUP_VIEW_INITIALIZER;
        for (int j = 0; j < n; ++j) flock_group_view_add_member(&view, g->addrs[j], g->pids[j]);
        for (int k = 0; metadata && metadata[k] && metadata[k + 1]; k += 2)
            flock_group_view_add_metadata(&view, metadata[k], metadata[k + 1]);
        struct flock_provider_args args = FLOCK_PROVIDER_ARGS_INIT;
        args.initial_view               = &view;
        int rc = flock_provider_register(g->mids[i], g->pids[i],
                                         config ? config : "{\"group\":{\"type\":\"static\"}}",
                                         &args, &g->providers[i]);
        flock_group_view_clear(&view);
        if (rc != FLOCK_SUCCESS) {
            ft_fail(__FILE__, __LINE__, "flock_provider_register(member %d) returned %d (%s)", i,
                    rc, ft_code_name(rc));
            return false;
        }
    }
    return true;
}

void ft_group_stop(ft_group* g)
{
    for (int i = 0; i < g->n; ++i) {
        if (g->providers[i]) {
            int rc = flock_provider_destroy(g->providers[i]);
            if (rc != FLOCK_SUCCESS)
                ft_fail(__FILE__, __LINE__, "flock_provider_destroy(member %d) returned %d", i, rc);
            g->providers[i] = NULL;
        }
    }
    for (int i = 0; i < g->n; ++i)
        if (g->mids[i]) margo_finalize(g->mids[i]);
    g->n = 0;
}

int ft_group_first(const ft_group* g)
{
    int best = 0;
    for (int i = 1; i < g->n; ++i) {
        int c = strcmp(g->addrs[i], g->addrs[best]);
        if (c < 0 || (c == 0 && g->pids[i] < g->pids[best])) best = i;
    }
    return best;
}

int ft_fetch_view(margo_instance_id mid, const char* address, uint16_t pid, uint32_t mode,
                  flock_group_view_t* view)
{
    flock_client_t       client = FLOCK_CLIENT_NULL;
    flock_group_handle_t handle = FLOCK_GROUP_HANDLE_NULL;
    hg_addr_t            addr   = HG_ADDR_NULL;
    int                  rc     = flock_client_init(mid, ABT_POOL_NULL, &client);
    if (rc != FLOCK_SUCCESS) return rc;
    if (margo_addr_lookup(mid, address, &addr) != HG_SUCCESS) {
        flock_client_finalize(client);
        return FLOCK_ERR_FROM_MERCURY;
    }
    rc = flock_group_handle_create(client, addr, pid, mode, &handle);
    if (rc == FLOCK_SUCCESS) {
        rc = flock_group_get_view(handle, view);
        flock_group_handle_release(handle);
    }
    margo_addr_free(mid, addr);
    flock_client_finalize(client);
    return rc;
}

void ft_self_view(margo_instance_id mid, uint16_t pid, flock_group_view_t* view)
{
    char addr[256];
    ft_self_address(mid, addr, sizeof(addr));
    flock_group_view_add_member(view, addr, pid);
}
