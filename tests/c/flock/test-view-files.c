/*
 * Views and group files: flock_group_view_serialize (exact text),
 * flock_group_view_serialize_to_file (mode 0600, atomic replacement),
 * flock_group_view_from_string / _from_file (what is accepted, and the error
 * code for everything that is not), and a group file written by upstream
 * Flock 0.7.0 (data/upstream-written.flock).
 *
 * No networking: the PROTOCOL argument is ignored.
 */
#define _POSIX_C_SOURCE 200809L
#include "flocktest.h"

#include <flock/flock-group-view.h>
#include <flock/flock-bootstrap.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The example of spec §3.1, built out of order to check the sorting. */
static void sample_view(flock_group_view_t* v)
{
    CHECK(flock_group_view_add_member(v, "na+sm://27843-0", 42) != NULL);
    CHECK(flock_group_view_add_member(v, "na+sm://27842-0", 42) != NULL);
    CHECK(flock_group_view_add_metadata(v, "__type__", "static") != NULL);
    CHECK(flock_group_view_add_metadata(v, "__config__", "{}") != NULL);
}

static const char* SAMPLE_TEXT =
    "{\"members\":[{\"address\":\"na+sm://27842-0\",\"provider_id\":42},"
    "{\"address\":\"na+sm://27843-0\",\"provider_id\":42}],"
    "\"metadata\":{\"__config__\":\"{}\",\"__type__\":\"static\"}}";

/* ---- serialize --------------------------------------------------------- */

typedef struct {
    int    calls;
    size_t len;
    char*  copy;
    int    nul_terminated;
} capture;

static void capture_cb(void* uargs, const char* str, size_t len)
{
    capture* c = uargs;
    c->calls++;
    c->len = len;
    free(c->copy);
    c->copy = malloc(len + 1);
    memcpy(c->copy, str, len);
    c->copy[len]      = '\0';
    c->nul_terminated = str[len] == '\0';
}

static void serialize_exact(void)
{
    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    sample_view(&v);
    uint64_t digest = v.digest;

    capture c = {0, 0, NULL, 0};
    CHECK_OK(flock_group_view_serialize(&v, capture_cb, &c));
    CHECK_MSG(c.calls == 1, "serializer called %d times, expected once", c.calls);
    CHECK_STR(c.copy, SAMPLE_TEXT);
    CHECK_U64(c.len, strlen(SAMPLE_TEXT));
    CHECK_MSG(c.nul_terminated, "the text handed to the serializer is not NUL-terminated");
    /* serialize leaves the view alone */
    CHECK_U64(v.digest, digest);
    CHECK_U64(v.members.size, 2);
    free(c.copy);

    /* the context pointer is passed through unchanged */
    flock_group_view_clear(&v);
}

static void serialize_empty(void)
{
    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    int   calls          = 0;
    char* text           = ft_serialize(&v, &calls);
    CHECK(calls == 1);
    CHECK_STR(text, "{\"members\":[],\"metadata\":{}}");
    free(text);

    /* members but no metadata */
    flock_group_view_add_member(&v, "ofi+tcp://127.0.0.1:1234", 0);
    text = ft_serialize(&v, NULL);
    CHECK_STR(text,
              "{\"members\":[{\"address\":\"ofi+tcp://127.0.0.1:1234\",\"provider_id\":0}],"
              "\"metadata\":{}}");
    free(text);
    flock_group_view_clear(&v);
}

static void serialize_escapes(void)
{
    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    flock_group_view_add_member(&v, "na+sm://1-0", 65535);
    flock_group_view_add_metadata(&v, "q", "a\"b\\c/d");
    flock_group_view_add_metadata(&v, "u", "\xc3\xa9t\xc3\xa9"); /* "été" */
    char* text = ft_serialize(&v, NULL);
    CHECK_STR(text,
              "{\"members\":[{\"address\":\"na+sm://1-0\",\"provider_id\":65535}],"
              "\"metadata\":{\"q\":\"a\\\"b\\\\c/d\",\"u\":\"\xc3\xa9t\xc3\xa9\"}}");
    free(text);

    /* control characters survive a round trip */
    flock_group_view_add_metadata(&v, "ctl", "line1\nline2\ttab\x01");
    text = ft_serialize(&v, NULL);
    REQUIRE(text != NULL);
    CHECK_MSG(strchr(text, '\n') == NULL && strchr(text, '\t') == NULL,
              "control characters not escaped: %s", text);
    flock_group_view_t back = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK_OK(flock_group_view_from_string(text, strlen(text), &back));
    CHECK_STR(flock_group_view_find_metadata(&back, "ctl"), "line1\nline2\ttab\x01");
    CHECK_STR(flock_group_view_find_metadata(&back, "q"), "a\"b\\c/d");
    CHECK_STR(flock_group_view_find_metadata(&back, "u"), "\xc3\xa9t\xc3\xa9");
    CHECK_U64(back.digest, v.digest);
    free(text);
    flock_group_view_clear(&back);
    flock_group_view_clear(&v);
}

static void serialize_bad_args(void)
{
    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    sample_view(&v);
    CHECK_RC(flock_group_view_serialize(&v, NULL, NULL), FLOCK_ERR_INVALID_ARGS);
    capture c = {0, 0, NULL, 0};
    CHECK_RC(flock_group_view_serialize(NULL, capture_cb, &c), FLOCK_ERR_INVALID_ARGS);
    CHECK(c.calls == 0);
    free(c.copy);
    flock_group_view_clear(&v);
}

/* ---- serialize_to_file ------------------------------------------------- */

static mode_t file_mode(const char* path)
{
    struct stat st;
    if (stat(path, &st) != 0) return (mode_t)-1;
    return st.st_mode & 07777;
}

/* Names in dir other than "." and ".." (count), and the first one seen
 * that is not `except` into other (may be NULL). */
static int dir_entries(const char* dir, const char* except, char* other, size_t other_size)
{
    DIR* d = opendir(dir);
    if (!d) return -1;
    int            n = 0;
    struct dirent* e;
    if (other && other_size) other[0] = '\0';
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        ++n;
        if (other && except && strcmp(e->d_name, except) != 0 && !other[0])
            snprintf(other, other_size, "%s", e->d_name);
    }
    closedir(d);
    return n;
}

static void to_file_mode_0600(void)
{
    const char* dir = ft_tmpdir();
    char        path[512];
    snprintf(path, sizeof(path), "%s/group.flock", dir);

    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    sample_view(&v);

    /* a permissive umask must not widen the mode */
    mode_t old = umask(0);
    CHECK_OK(flock_group_view_serialize_to_file(&v, path));
    umask(old);
    CHECK_MSG(file_mode(path) == 0600, "new group file has mode %04o, expected 0600",
              (unsigned)file_mode(path));

    /* a strict umask must not narrow it either (the owner can still read it) */
    old = umask(0077);
    CHECK_OK(flock_group_view_serialize_to_file(&v, path));
    umask(old);
    CHECK_MSG(file_mode(path) == 0600, "rewritten group file has mode %04o, expected 0600",
              (unsigned)file_mode(path));

    /* replacing a world-readable file leaves a 0600 one */
    CHECK(chmod(path, 0644) == 0);
    CHECK_OK(flock_group_view_serialize_to_file(&v, path));
    CHECK_MSG(file_mode(path) == 0600, "replaced 0644 group file has mode %04o, expected 0600",
              (unsigned)file_mode(path));

    size_t len  = 0;
    char*  text = ft_read_file(path, &len);
    CHECK_STR(text, SAMPLE_TEXT);
    CHECK_U64(len, strlen(SAMPLE_TEXT)); /* no trailing newline */
    free(text);
    flock_group_view_clear(&v);
}

static void to_file_atomic(void)
{
    const char* dir = ft_tmpdir();
    char        path[512];
    snprintf(path, sizeof(path), "%s/group.flock", dir);

    flock_group_view_t v1 = FLOCK_GROUP_VIEW_INITIALIZER;
    sample_view(&v1);
    CHECK_OK(flock_group_view_serialize_to_file(&v1, path));

    struct stat before;
    REQUIRE(stat(path, &before) == 0);
    int fd = open(path, O_RDONLY);
    REQUIRE(fd >= 0);

    flock_group_view_t v2 = FLOCK_GROUP_VIEW_INITIALIZER;
    flock_group_view_add_member(&v2, "na+sm://99-0", 7);
    flock_group_view_add_metadata(&v2, "k", "v");
    CHECK_OK(flock_group_view_serialize_to_file(&v2, path));

    /* the old file was replaced, not rewritten in place: a reader that had
     * it open still sees the complete old content */
    char   old_text[1024];
    ssize_t n = read(fd, old_text, sizeof(old_text) - 1);
    close(fd);
    CHECK(n >= 0);
    old_text[n < 0 ? 0 : n] = '\0';
    CHECK_STR(old_text, SAMPLE_TEXT);

    struct stat after;
    REQUIRE(stat(path, &after) == 0);
    CHECK_MSG(after.st_ino != before.st_ino,
              "group file rewritten in place (same inode): not an atomic replacement");

    char* text = ft_read_file(path, NULL);
    char* ser  = ft_serialize(&v2, NULL);
    CHECK_STR(text, ser);
    free(text);
    free(ser);

    /* nothing left behind (no temporary / .swp file) */
    char other[256];
    int  count = dir_entries(dir, "group.flock", other, sizeof(other));
    CHECK_MSG(count == 1, "directory holds %d entries after writing (extra: %s)", count, other);

    /* a relative file name works (written in the current directory) */
    char cwd[1024];
    REQUIRE(getcwd(cwd, sizeof(cwd)) != NULL);
    REQUIRE(chdir(dir) == 0);
    CHECK_OK(flock_group_view_serialize_to_file(&v2, "relative.flock"));
    CHECK(chdir(cwd) == 0);
    char rel[512];
    snprintf(rel, sizeof(rel), "%s/relative.flock", dir);
    text = ft_read_file(rel, NULL);
    CHECK(text != NULL);
    free(text);

    flock_group_view_clear(&v1);
    flock_group_view_clear(&v2);
}

static void to_file_errors(void)
{
    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    sample_view(&v);
    const char* dir = ft_tmpdir();
    char        path[512];

    /* the directory does not exist: upstream's fopen failure code */
    snprintf(path, sizeof(path), "%s/no/such/dir/group.flock", dir);
    CHECK_RC(flock_group_view_serialize_to_file(&v, path), FLOCK_ERR_ALLOCATION);

    /* the target is a directory: rename fails */
    snprintf(path, sizeof(path), "%s/adir", dir);
    REQUIRE(mkdir(path, 0700) == 0);
    char inner[600];
    snprintf(inner, sizeof(inner), "%s/x", path);
    REQUIRE(ft_write_file(inner, "x", 1));
    int rc = flock_group_view_serialize_to_file(&v, path);
    CHECK_MSG(rc != FLOCK_SUCCESS, "writing over a non-empty directory succeeded");
    /* and the directory was not harmed */
    char* x = ft_read_file(inner, NULL);
    CHECK_STR(x, "x");
    free(x);
    /* nothing left behind except adir */
    char other[256];
    int  count = dir_entries(dir, "adir", other, sizeof(other));
    CHECK_MSG(count == 1, "failed write left %d entries (extra: %s)", count, other);

    CHECK_RC(flock_group_view_serialize_to_file(&v, NULL), FLOCK_ERR_INVALID_ARGS);
    CHECK_RC(flock_group_view_serialize_to_file(NULL, inner), FLOCK_ERR_INVALID_ARGS);
    flock_group_view_clear(&v);
}

/* ---- from_string ------------------------------------------------------- */

/* Parses text into a view holding one marker member; on failure the view
 * must be left exactly as it was. */
static void expect_rejected(const char* text, size_t len, int expected, const char* what)
{
    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    flock_group_view_add_member(&v, "marker://0", 1);
    flock_group_view_add_metadata(&v, "marker", "yes");
    uint64_t digest = v.digest;
    int      rc     = flock_group_view_from_string(text, len, &v);
    CHECK_MSG(rc == expected, "from_string(%s) returned %d (%s), expected %d (%s)", what, rc,
              ft_code_name(rc), expected, ft_code_name(expected));
    CHECK_MSG(v.digest == digest && v.members.size == 1 && v.metadata.size == 1,
              "from_string(%s) failed but changed the view", what);
    flock_group_view_clear(&v);
}

static void from_string_rejects(void)
{
    static const struct {
        const char* what;
        const char* text;
    } bad[] = {
        {"non-JSON", "hello"},
        {"non-JSON braces", "{members}"},
        {"array", "[1,2,3]"},
        {"string", "\"members\""},
        {"number", "42"},
        {"null", "null"},
        {"no members", "{\"metadata\":{}}"},
        {"empty object", "{}"},
        {"empty members", "{\"members\":[],\"metadata\":{}}"},
        {"members null", "{\"members\":null,\"metadata\":{}}"},
        {"members object", "{\"members\":{\"address\":\"a\",\"provider_id\":1},\"metadata\":{}}"},
        {"members string", "{\"members\":\"na+sm://1-0\",\"metadata\":{}}"},
        {"metadata array", "{\"members\":[{\"address\":\"a\",\"provider_id\":1}],\"metadata\":[]}"},
        {"metadata string", "{\"members\":[{\"address\":\"a\",\"provider_id\":1}],\"metadata\":\"x\"}"},
        {"member not object", "{\"members\":[\"a\"],\"metadata\":{}}"},
        {"member array", "{\"members\":[[\"a\",1]],\"metadata\":{}}"},
        {"no address", "{\"members\":[{\"provider_id\":1}],\"metadata\":{}}"},
        {"no provider_id", "{\"members\":[{\"address\":\"a\"}],\"metadata\":{}}"},
        {"address number", "{\"members\":[{\"address\":12,\"provider_id\":1}],\"metadata\":{}}"},
        {"address null", "{\"members\":[{\"address\":null,\"provider_id\":1}],\"metadata\":{}}"},
        {"provider_id string", "{\"members\":[{\"address\":\"a\",\"provider_id\":\"1\"}],\"metadata\":{}}"},
        {"provider_id float", "{\"members\":[{\"address\":\"a\",\"provider_id\":1.5}],\"metadata\":{}}"},
        {"provider_id negative", "{\"members\":[{\"address\":\"a\",\"provider_id\":-1}],\"metadata\":{}}"},
        {"provider_id 65536", "{\"members\":[{\"address\":\"a\",\"provider_id\":65536}],\"metadata\":{}}"},
        {"provider_id huge", "{\"members\":[{\"address\":\"a\",\"provider_id\":99999999999999999999}],\"metadata\":{}}"},
        {"provider_id bool", "{\"members\":[{\"address\":\"a\",\"provider_id\":true}],\"metadata\":{}}"},
        {"second member bad", "{\"members\":[{\"address\":\"a\",\"provider_id\":1},{\"address\":\"b\"}],\"metadata\":{}}"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i)
        expect_rejected(bad[i].text, strlen(bad[i].text), FLOCK_ERR_INVALID_CONFIG, bad[i].what);

    /* empty input: zero length, and whitespace only */
    expect_rejected("", 0, FLOCK_ERR_INVALID_CONFIG, "empty");
    expect_rejected(SAMPLE_TEXT, 0, FLOCK_ERR_INVALID_CONFIG, "zero length of a valid text");
    expect_rejected("   \n", 4, FLOCK_ERR_INVALID_CONFIG, "whitespace");

    /* every proper prefix of a valid document is rejected (truncation) */
    size_t full = strlen(SAMPLE_TEXT);
    for (size_t len = 1; len < full; ++len) {
        char what[64];
        snprintf(what, sizeof(what), "truncated to %zu bytes", len);
        expect_rejected(SAMPLE_TEXT, len, FLOCK_ERR_INVALID_CONFIG, what);
    }
}

static void from_string_accepts(void)
{
    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;

    /* the sample, with the digest recomputed from the content */
    CHECK_OK(flock_group_view_from_string(SAMPLE_TEXT, strlen(SAMPLE_TEXT), &v));
    flock_group_view_t ref = FLOCK_GROUP_VIEW_INITIALIZER;
    sample_view(&ref);
    CHECK_U64(v.digest, ref.digest);
    CHECK_U64(v.members.size, 2);
    CHECK_U64(v.metadata.size, 2);
    CHECK_U64(v.digest, ft_recompute_digest(&v));
    flock_group_view_clear(&ref);

    /* the target view is cleared first */
    const char* one = "{\"members\":[{\"address\":\"x\",\"provider_id\":3}],\"metadata\":{}}";
    CHECK_OK(flock_group_view_from_string(one, strlen(one), &v));
    CHECK_U64(v.members.size, 1);
    CHECK_U64(v.metadata.size, 0);
    CHECK_STR(v.members.data[0].address, "x");
    CHECK_U64(v.digest, flock_hash_member(3, "x"));

    /* out-of-order members are sorted; unknown keys ignored; no metadata key
     * (upstream crashes there; ours must accept it as empty metadata) */
    const char* unsorted =
        "{\"transport\":\"na+sm\",\"members\":[{\"address\":\"b\",\"provider_id\":2,\"rank\":0},"
        "{\"address\":\"a\",\"provider_id\":9},{\"address\":\"a\",\"provider_id\":1}]}";
    CHECK_OK(flock_group_view_from_string(unsorted, strlen(unsorted), &v));
    REQUIRE(v.members.size == 3);
    CHECK_STR(v.members.data[0].address, "a");
    CHECK_U64(v.members.data[0].provider_id, 1);
    CHECK_STR(v.members.data[1].address, "a");
    CHECK_U64(v.members.data[1].provider_id, 9);
    CHECK_STR(v.members.data[2].address, "b");
    CHECK_U64(v.metadata.size, 0);

    /* provider id bounds */
    const char* bounds =
        "{\"members\":[{\"address\":\"a\",\"provider_id\":0},{\"address\":\"b\",\"provider_id\":65535}],"
        "\"metadata\":{}}";
    CHECK_OK(flock_group_view_from_string(bounds, strlen(bounds), &v));
    CHECK(v.members.size == 2 && v.members.data[1].provider_id == 65535);

    /* non-string metadata values become their JSON text */
    const char* typed =
        "{\"members\":[{\"address\":\"a\",\"provider_id\":1}],"
        "\"metadata\":{\"n\":42,\"t\":true,\"s\":\"str\"}}";
    CHECK_OK(flock_group_view_from_string(typed, strlen(typed), &v));
    CHECK_STR(flock_group_view_find_metadata(&v, "n"), "42");
    CHECK_STR(flock_group_view_find_metadata(&v, "t"), "true");
    CHECK_STR(flock_group_view_find_metadata(&v, "s"), "str");

    /* only str_len bytes are read: a valid document followed by junk */
    char buf[512];
    snprintf(buf, sizeof(buf), "%s@@@ this is not JSON", SAMPLE_TEXT);
    CHECK_OK(flock_group_view_from_string(buf, strlen(SAMPLE_TEXT), &v));
    CHECK_U64(v.members.size, 2);

    /* not NUL-terminated at str_len */
    char nonul[512];
    memcpy(nonul, SAMPLE_TEXT, strlen(SAMPLE_TEXT));
    memset(nonul + strlen(SAMPLE_TEXT), '}', 8);
    nonul[strlen(SAMPLE_TEXT) + 8] = '\0';
    CHECK_OK(flock_group_view_from_string(nonul, strlen(SAMPLE_TEXT), &v));

    /* surrounding whitespace */
    snprintf(buf, sizeof(buf), "  \n%s\n  ", SAMPLE_TEXT);
    CHECK_OK(flock_group_view_from_string(buf, strlen(buf), &v));
    CHECK_U64(v.members.size, 2);

    flock_group_view_clear(&v);
}

static void round_trip(void)
{
    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    char               addr[64];
    for (int i = 0; i < 16; ++i) {
        snprintf(addr, sizeof(addr), "ofi+tcp://10.0.0.%d:%d", 16 - i, 5000 + i);
        flock_group_view_add_member(&v, addr, (uint16_t)(i * 4000));
    }
    for (int i = 0; i < 8; ++i) {
        char k[16], val[32];
        snprintf(k, sizeof(k), "key%d", 7 - i);
        snprintf(val, sizeof(val), "value %d / %d", i, i * i);
        flock_group_view_add_metadata(&v, k, val);
    }
    char* text = ft_serialize(&v, NULL);
    REQUIRE(text != NULL);

    flock_group_view_t back = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK_OK(flock_group_view_from_string(text, strlen(text), &back));
    CHECK_U64(back.digest, v.digest);
    CHECK_U64(back.members.size, 16);
    CHECK_U64(back.metadata.size, 8);
    for (uint64_t i = 0; i < back.members.size && i < v.members.size; ++i) {
        CHECK_STR(back.members.data[i].address, v.members.data[i].address);
        CHECK_U64(back.members.data[i].provider_id, v.members.data[i].provider_id);
    }
    char* again = ft_serialize(&back, NULL);
    CHECK_STR(again, text);

    const char* dir = ft_tmpdir();
    char        path[512];
    snprintf(path, sizeof(path), "%s/rt.flock", dir);
    CHECK_OK(flock_group_view_serialize_to_file(&v, path));
    flock_group_view_t fromfile = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK_OK(flock_group_view_from_file(path, &fromfile));
    CHECK_U64(fromfile.digest, v.digest);
    flock_group_view_t viainit = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK_OK(flock_group_view_init_from_file(path, &viainit));
    CHECK_U64(viainit.digest, v.digest);

    free(text);
    free(again);
    flock_group_view_clear(&v);
    flock_group_view_clear(&back);
    flock_group_view_clear(&fromfile);
    flock_group_view_clear(&viainit);
}

/* ---- from_file --------------------------------------------------------- */

static void expect_file_rejected(const char* path, int expected, const char* what)
{
    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    flock_group_view_add_member(&v, "marker://0", 1);
    uint64_t digest = v.digest;
    int      rc     = flock_group_view_from_file(path, &v);
    CHECK_MSG(rc == expected, "from_file(%s) returned %d (%s), expected %d (%s)", what, rc,
              ft_code_name(rc), expected, ft_code_name(expected));
    CHECK_MSG(v.digest == digest && v.members.size == 1,
              "from_file(%s) failed but changed the view", what);
    rc = flock_group_view_init_from_file(path, &v);
    CHECK_MSG(rc == expected, "init_from_file(%s) returned %d (%s), expected %d (%s)", what, rc,
              ft_code_name(rc), expected, ft_code_name(expected));
    flock_group_view_clear(&v);
}

static void from_file_errors(void)
{
    const char* dir = ft_tmpdir();
    char        path[512];

    snprintf(path, sizeof(path), "%s/missing.flock", dir);
    expect_file_rejected(path, FLOCK_ERR_INVALID_ARGS, "missing file");

    expect_file_rejected(dir, FLOCK_ERR_INVALID_ARGS, "a directory");

    snprintf(path, sizeof(path), "%s/empty.flock", dir);
    REQUIRE(ft_write_file(path, "", 0));
    expect_file_rejected(path, FLOCK_ERR_INVALID_CONFIG, "empty file");

    snprintf(path, sizeof(path), "%s/truncated.flock", dir);
    REQUIRE(ft_write_file(path, SAMPLE_TEXT, strlen(SAMPLE_TEXT) / 2));
    expect_file_rejected(path, FLOCK_ERR_INVALID_CONFIG, "truncated file");

    snprintf(path, sizeof(path), "%s/text.flock", dir);
    REQUIRE(ft_write_file(path, "members: a, b\n", 14));
    expect_file_rejected(path, FLOCK_ERR_INVALID_CONFIG, "non-JSON file");

    snprintf(path, sizeof(path), "%s/typed.flock", dir);
    const char* typed = "{\"members\":[{\"address\":1,\"provider_id\":1}],\"metadata\":{}}";
    REQUIRE(ft_write_file(path, typed, strlen(typed)));
    expect_file_rejected(path, FLOCK_ERR_INVALID_CONFIG, "wrong-typed file");

    snprintf(path, sizeof(path), "%s/memberless.flock", dir);
    const char* memberless = "{\"members\":[],\"metadata\":{\"a\":\"b\"}}";
    REQUIRE(ft_write_file(path, memberless, strlen(memberless)));
    expect_file_rejected(path, FLOCK_ERR_INVALID_CONFIG, "memberless file");

    snprintf(path, sizeof(path), "%s/binary.flock", dir);
    REQUIRE(ft_write_file(path, "\x00\x01\x02\xff", 4));
    expect_file_rejected(path, FLOCK_ERR_INVALID_CONFIG, "binary file");

    /* an unreadable file (mode 0000) is INVALID_ARGS; root reads anyway */
    if (geteuid() != 0) {
        snprintf(path, sizeof(path), "%s/noperm.flock", dir);
        REQUIRE(ft_write_file(path, SAMPLE_TEXT, strlen(SAMPLE_TEXT)));
        REQUIRE(chmod(path, 0) == 0);
        expect_file_rejected(path, FLOCK_ERR_INVALID_ARGS, "unreadable file");
    }

    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK_RC(flock_group_view_from_file(NULL, &v), FLOCK_ERR_INVALID_ARGS);
    snprintf(path, sizeof(path), "%s/typed.flock", dir);
    CHECK_RC(flock_group_view_from_file(path, NULL), FLOCK_ERR_INVALID_ARGS);
}

/* ---- upstream's file --------------------------------------------------- */

static void upstream_file(void)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/upstream-written.flock", ft_data_dir());
    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    REQUIRE_OK(flock_group_view_from_file(path, &v));
    CHECK_U64(v.digest, 5701955205164907602ULL);
    CHECK_U64(ft_recompute_digest(&v), 5701955205164907602ULL);
    REQUIRE(v.members.size == 3);
    CHECK_STR(v.members.data[0].address, "na+sm://1234-0");
    CHECK_U64(v.members.data[0].provider_id, 1);
    CHECK_STR(v.members.data[1].address, "na+sm://1234-0");
    CHECK_U64(v.members.data[1].provider_id, 2);
    CHECK_STR(v.members.data[2].address, "ofi+tcp://127.0.0.1:5000");
    CHECK_U64(v.members.data[2].provider_id, 7);
    CHECK_U64(v.metadata.size, 3);
    CHECK_STR(flock_group_view_find_metadata(&v, "__config__"), "{}");
    CHECK_STR(flock_group_view_find_metadata(&v, "__type__"), "static");
    CHECK_STR(flock_group_view_find_metadata(&v, "zeta"), "\xc3\xa9t\xc3\xa9");
    for (uint64_t i = 0; i < v.members.size; ++i) {
        CHECK(v.members.data[i].extra.data == NULL);
        CHECK(v.members.data[i].extra.free == NULL);
    }

    /* what we write is byte-identical to what upstream wrote */
    size_t len      = 0;
    char*  original = ft_read_file(path, &len);
    char*  ours     = ft_serialize(&v, NULL);
    CHECK_STR(ours, original);

    /* and it also parses from memory, with the same digest */
    flock_group_view_t w = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK_OK(flock_group_view_from_string(original, len, &w));
    CHECK_U64(w.digest, 5701955205164907602ULL);

    /* a copy written by us reads back identically */
    char out[512];
    snprintf(out, sizeof(out), "%s/copy.flock", ft_tmpdir());
    CHECK_OK(flock_group_view_serialize_to_file(&v, out));
    char* copy = ft_read_file(out, NULL);
    CHECK_STR(copy, original);

    free(original);
    free(ours);
    free(copy);
    flock_group_view_clear(&v);
    flock_group_view_clear(&w);
}

/* Views are JSON text, hence UTF-8: a view holding other bytes (e.g.
 * Latin-1 "\xe9t\xe9") is refused with FLOCK_ERR_INVALID_ARGS when
 * serialized, and such text is refused with FLOCK_ERR_INVALID_CONFIG when
 * parsed (upstream copies the bytes verbatim: a documented difference). */
static void non_utf8_bytes(void)
{
    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    flock_group_view_add_member(&v, "na+sm://1-0", 1);
    flock_group_view_add_metadata(&v, "k", "\xe9t\xe9");
    char path[512];
    snprintf(path, sizeof(path), "%s/latin1.flock", ft_tmpdir());
    CHECK_RC(flock_group_view_serialize_to_file(&v, path), FLOCK_ERR_INVALID_ARGS);
    flock_group_view_t back = FLOCK_GROUP_VIEW_INITIALIZER;
    const char* raw = "{\"members\":[{\"address\":\"na+sm://1-0\",\"provider_id\":1}],"
                      "\"metadata\":{\"k\":\"\xe9t\xe9\"}}";
    CHECK_RC(flock_group_view_from_string(raw, strlen(raw), &back), FLOCK_ERR_INVALID_CONFIG);
    flock_group_view_clear(&v);
    flock_group_view_clear(&back);
}

static const ft_case cases[] = {
    {"serialize_exact", serialize_exact},
    {"serialize_empty", serialize_empty},
    {"serialize_escapes", serialize_escapes},
    {"serialize_bad_args", serialize_bad_args},
    {"to_file_mode_0600", to_file_mode_0600},
    {"to_file_atomic", to_file_atomic},
    {"to_file_errors", to_file_errors},
    {"from_string_rejects", from_string_rejects},
    {"from_string_accepts", from_string_accepts},
    {"round_trip", round_trip},
    {"from_file_errors", from_file_errors},
    {"upstream_file", upstream_file},
    {"non_utf8_bytes", non_utf8_bytes},
};

int main(int argc, char** argv)
{
    return ft_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
