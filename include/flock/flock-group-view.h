/*
 * flock-group-view.h -- the group view: the list of members of a Flock group
 * plus its key/value metadata, and the inline helpers that keep it sorted and
 * its digest up to date.
 *
 * Source- and layout-compatible with upstream mochi-flock: the structs have
 * the same fields at the same offsets (LP64: flock_member_t is 32 bytes,
 * flock_metadata_t 16, flock_group_view_t 120), and the helpers have the
 * same names, signatures and semantics. The digest is bit-exact with
 * upstream's, so digests computed here and in the Rust library agree.
 *
 * Invariants kept by the helpers (fields may be read directly but must only
 * be modified through the helpers):
 *   - members are sorted by address (strcmp), then by provider id;
 *     add_member does not reject duplicates, that is the caller's job;
 *   - metadata entries are sorted by key (strcmp) and keys are unique;
 *   - digest == XOR of flock_hash_member() over all members and of
 *     flock_hash_metadata() over all entries (0 for an empty view).
 * Memory is owned by the view and allocated with malloc / freed with free.
 */
#ifndef FLOCK_GROUP_VIEW_H
#define FLOCK_GROUP_VIEW_H

#include "flock/flock-common.h"
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h> /* ssize_t */
#ifndef __cplusplus
#include <stdbool.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* One group member. */
typedef struct {
    char*    address;     /* owned, NUL-terminated */
    uint16_t provider_id;
    /* Backend-private data attached to the member; never serialized nor
     * copied. If free is set, it is called on data when the member is
     * removed or the view is cleared. */
    struct {
        void* data;
        void (*free)(void*);
    } extra;
} flock_member_t;

/* One metadata entry (both strings owned, NUL-terminated). */
typedef struct {
    char* key;
    char* value;
} flock_metadata_t;

/*
 * The view's lock.
 *
 * Upstream stores an Argobots ABT_mutex_memory here, which is a plain
 * `int[16]` (64 bytes, all zeroes = unlocked). We do not depend on
 * Argobots, so the lock is a POSIX mutex overlaid on the same 64 bytes:
 *   - the union keeps sizeof == 64, and because the field sits at offset 56
 *     of an 8-byte aligned struct, flock_group_view_t keeps upstream's size
 *     (120) and field offsets, so binaries and language bindings that embed
 *     the struct see the same layout;
 *   - a pthread mutex blocks instead of spinning, like the Argobots mutex
 *     it replaces, and needs no library beyond libc;
 *   - on glibc and musl an all-zero pthread_mutex_t is a valid unlocked
 *     default mutex, so views created with calloc/memset or `= {0}` (which
 *     were valid upstream) stay valid; FLOCK_GROUP_VIEW_INITIALIZER uses
 *     PTHREAD_MUTEX_INITIALIZER anyway.
 * The mutex is never destroyed by the helpers (the Argobots one was not
 * either); it is not recursive.
 */
typedef union {
    pthread_mutex_t mutex;
    int             reserved[16]; /* size of upstream's ABT_mutex_memory */
} flock_group_view_mutex_t;

/* Fails to compile if a platform's pthread_mutex_t does not fit. */
typedef char flock_group_view_mutex_fits[
    (sizeof(pthread_mutex_t) <= 16 * sizeof(int)) ? 1 : -1];

/* A group view. */
typedef struct {
    struct {
        uint64_t        size;
        uint64_t        capacity;
        flock_member_t* data;     /* sorted, see above */
    } members;
    struct {
        uint64_t          size;
        uint64_t          capacity;
        flock_metadata_t* data;   /* sorted by key, see above */
    } metadata;
    uint64_t                 digest;
    flock_group_view_mutex_t mtx;
} flock_group_view_t;

/* Static initializer for an empty, unlocked view. */
#define FLOCK_GROUP_VIEW_INITIALIZER \
    {{0, 0, NULL}, {0, 0, NULL}, 0, {PTHREAD_MUTEX_INITIALIZER}}

/*
 * Moves the content (members, metadata, digest) of *__src__ into *__dst__
 * and leaves *__src__ empty. *__dst__ must be empty (its content is
 * overwritten, not freed). Neither lock is touched.
 */
#define FLOCK_GROUP_VIEW_MOVE(__src__, __dst__) do {  \
    (__dst__)->members  = (__src__)->members;         \
    (__dst__)->metadata = (__src__)->metadata;        \
    (__dst__)->digest   = (__src__)->digest;          \
    (__src__)->members.size      = 0;                 \
    (__src__)->members.capacity  = 0;                 \
    (__src__)->members.data      = NULL;              \
    (__src__)->metadata.size     = 0;                 \
    (__src__)->metadata.capacity = 0;                 \
    (__src__)->metadata.data     = NULL;              \
    (__src__)->digest            = 0;                 \
} while (0)

/* Lock / unlock the view's mutex. */
#define FLOCK_GROUP_VIEW_LOCK(view) do {                \
    (void)pthread_mutex_lock(&(view)->mtx.mutex);       \
} while (0)

#define FLOCK_GROUP_VIEW_UNLOCK(view) do {              \
    (void)pthread_mutex_unlock(&(view)->mtx.mutex);     \
} while (0)

/* ------------------------------------------------------------------------ */
/* Internal helpers (not part of upstream's API; do not call directly).      */

/* strdup is POSIX, not ISO C: this header must also build with -std=c99. */
static inline char* flock_internal_strdup(const char* s)
{
    size_t n   = strlen(s) + 1;
    char*  out = (char*)malloc(n);
    if (out) memcpy(out, s, n);
    return out;
}

/* A byte as upstream's hash sees it: a plain (signed) char, sign-extended,
 * then converted to uint64_t. Done arithmetically so the result is the same
 * on platforms whose plain char is unsigned. */
static inline uint64_t flock_internal_hash_byte(unsigned int byte)
{
    uint64_t b = (uint64_t)(byte & 0xFFu);
    return (b & 0x80u) ? (b | ~(uint64_t)0xFF) : b;
}

/* Three-way comparison of a member against (address, provider_id), in the
 * view's sort order: address first (strcmp), then provider id. */
static inline int flock_internal_member_order(const flock_member_t* m,
                                              const char* address, uint16_t provider_id)
{
    int c = strcmp(m->address, address);
    if (c != 0) return c;
    if (m->provider_id < provider_id) return -1;
    if (m->provider_id > provider_id) return 1;
    return 0;
}

/* Grows a dynamic array so that it can hold one more element. Capacity goes
 * 0 -> 1 -> 2 -> 4 ...; on failure nothing is changed and false returned. */
static inline bool flock_internal_reserve(void** data, uint64_t* capacity,
                                          uint64_t size, size_t elem_size)
{
    if (size < *capacity) return true;
    uint64_t new_capacity = *capacity == 0 ? 1 : *capacity * 2;
    void* grown = realloc(*data, (size_t)new_capacity * elem_size);
    if (!grown) return false;
    *data     = grown;
    *capacity = new_capacity;
    return true;
}

/* ------------------------------------------------------------------------ */
/* Hashes (bit-exact with upstream).                                        */

/* djb2 over the bytes of str: h = 5381, then h = h * 33 + c for each byte,
 * with c taken as a sign-extended signed char. */
static inline uint64_t flock_djb2_hash(const char* str)
{
    uint64_t hash = 5381;
    const unsigned char* p = (const unsigned char*)str;
    for (; *p; ++p) hash = hash * 33 + flock_internal_hash_byte(*p);
    return hash;
}

/* Hash of a member: djb2 of the address, continued over the two bytes of
 * the provider id in little-endian order (each sign-extended). */
static inline uint64_t flock_hash_member(uint16_t provider_id, const char* address)
{
    uint64_t hash = flock_djb2_hash(address);
    hash = hash * 33 + flock_internal_hash_byte(provider_id & 0xFFu);
    hash = hash * 33 + flock_internal_hash_byte((unsigned int)provider_id >> 8);
    return hash;
}

/* Hash of a metadata entry: djb2(key) XOR (djb2(val) rotated left by 3
 * bits), so that (k, v) and (v, k) hash differently. */
static inline uint64_t flock_hash_metadata(const char* key, const char* val)
{
    uint64_t kh = flock_djb2_hash(key);
    uint64_t vh = flock_djb2_hash(val);
    return kh ^ ((vh << 3) | (vh >> 61));
}

/* ------------------------------------------------------------------------ */
/* Whole-view helpers.                                                      */

/* The view's digest. */
static inline uint64_t flock_group_view_digest(const flock_group_view_t* view)
{
    return view->digest;
}

/* Frees every member (calling extra.free where set) and metadata entry and
 * both arrays; leaves an empty view with digest 0. The lock is untouched. */
static inline void flock_group_view_clear(flock_group_view_t* view)
{
    for (uint64_t i = 0; i < view->members.size; ++i) {
        flock_member_t* m = &view->members.data[i];
        free(m->address);
        if (m->extra.free) m->extra.free(m->extra.data);
    }
    free(view->members.data);
    view->members.data     = NULL;
    view->members.size     = 0;
    view->members.capacity = 0;

    for (uint64_t i = 0; i < view->metadata.size; ++i) {
        free(view->metadata.data[i].key);
        free(view->metadata.data[i].value);
    }
    free(view->metadata.data);
    view->metadata.data     = NULL;
    view->metadata.size     = 0;
    view->metadata.capacity = 0;

    view->digest = 0;
}

/* Releases every member's extra data (calling extra.free where set) and
 * resets extra.data / extra.free to NULL. */
static inline void flock_group_view_clear_extra(flock_group_view_t* view)
{
    for (uint64_t i = 0; i < view->members.size; ++i) {
        flock_member_t* m = &view->members.data[i];
        if (m->extra.free) m->extra.free(m->extra.data);
        m->extra.data = NULL;
        m->extra.free = NULL;
    }
}

/* ------------------------------------------------------------------------ */
/* Members.                                                                 */

/* Compares two members in the view's order: by address first (the result
 * of strcmp is returned as is when addresses differ), then by provider id
 * (-1, 0 or 1). */
static inline int flock_member_cmp(flock_member_t* mem1, flock_member_t* mem2)
{
    return flock_internal_member_order(mem1, mem2->address, mem2->provider_id);
}

/* Index of the member (address, provider_id), or -1 if absent. */
static inline ssize_t flock_group_view_members_binary_search(
    const flock_group_view_t* view, const char* address, uint16_t provider_id)
{
    if (!address) return -1;
    ssize_t lo = 0;
    ssize_t hi = (ssize_t)view->members.size - 1;
    while (lo <= hi) {
        ssize_t mid = lo + (hi - lo) / 2;
        int c = flock_internal_member_order(&view->members.data[mid], address, provider_id);
        if (c == 0) return mid;
        if (c < 0) lo = mid + 1;
        else       hi = mid - 1;
    }
    return -1;
}

/* Inserts a copy of (address, provider_id) at its sorted place (before any
 * equal member: duplicates are not rejected), with NULL extra fields, and
 * XORs its hash into the digest. Returns the new member, or NULL on
 * allocation failure or NULL address (the view is then unchanged). The
 * returned pointer is valid until the next change of the members. */
static inline flock_member_t* flock_group_view_add_member(
    flock_group_view_t* view, const char* address, uint16_t provider_id)
{
    if (!address) return NULL;
    void* data = view->members.data;
    if (!flock_internal_reserve(&data, &view->members.capacity,
                                view->members.size, sizeof(flock_member_t)))
        return NULL;
    view->members.data = (flock_member_t*)data;

    char* copy = flock_internal_strdup(address);
    if (!copy) return NULL;

    /* lower bound: first member that is >= the new one */
    uint64_t lo = 0, hi = view->members.size;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (flock_internal_member_order(&view->members.data[mid], address, provider_id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }

    flock_member_t* slot = &view->members.data[lo];
    memmove(slot + 1, slot, (size_t)(view->members.size - lo) * sizeof(flock_member_t));
    slot->address     = copy;
    slot->provider_id = provider_id;
    slot->extra.data  = NULL;
    slot->extra.free  = NULL;
    view->members.size += 1;
    view->digest ^= flock_hash_member(provider_id, address);
    return slot;
}

/* Removes the member that `member` points to (it must point at an element
 * of this view's member array, e.g. as returned by find_member or
 * member_at), calling its extra.free if set and XORing its hash out of the
 * digest. Returns false and changes nothing if the pointer is NULL or does
 * not designate one of the view's members. */
static inline bool flock_group_view_remove_member(flock_group_view_t* view, flock_member_t* member)
{
    /* compare as integers: subtracting unrelated pointers is undefined */
    uintptr_t base = (uintptr_t)view->members.data;
    uintptr_t ptr  = (uintptr_t)member;
    if (!member || !view->members.data || ptr < base) return false;
    uintptr_t offset = ptr - base;
    if (offset % sizeof(flock_member_t) != 0) return false;
    uint64_t idx = (uint64_t)(offset / sizeof(flock_member_t));
    if (idx >= view->members.size) return false;

    flock_member_t* m = &view->members.data[idx];
    view->digest ^= flock_hash_member(m->provider_id, m->address);
    free(m->address);
    if (m->extra.free) m->extra.free(m->extra.data);
    memmove(m, m + 1, (size_t)(view->members.size - idx - 1) * sizeof(flock_member_t));
    view->members.size -= 1;
    return true;
}

/* The member (address, provider_id), or NULL if absent. */
static inline flock_member_t* flock_group_view_find_member(
    flock_group_view_t* view, const char* address, uint16_t provider_id)
{
    ssize_t idx = flock_group_view_members_binary_search(view, address, provider_id);
    return idx < 0 ? NULL : &view->members.data[idx];
}

/* The member at `index` in sorted order, or NULL if index >= count. */
static inline flock_member_t* flock_group_view_member_at(flock_group_view_t* view, size_t index)
{
    return index < view->members.size ? &view->members.data[index] : NULL;
}

/* Number of members. */
static inline size_t flock_group_view_member_count(flock_group_view_t* view)
{
    return (size_t)view->members.size;
}

/* ------------------------------------------------------------------------ */
/* Metadata.                                                                */

/* Index of the entry with this key, or -1 if absent. */
static inline ssize_t flock_group_view_metadata_binary_search(
    const flock_group_view_t* view, const char* key)
{
    if (!key) return -1;
    ssize_t lo = 0;
    ssize_t hi = (ssize_t)view->metadata.size - 1;
    while (lo <= hi) {
        ssize_t mid = lo + (hi - lo) / 2;
        int c = strcmp(view->metadata.data[mid].key, key);
        if (c == 0) return mid;
        if (c < 0) lo = mid + 1;
        else       hi = mid - 1;
    }
    return -1;
}

/* Sets key to value. If the key exists its value is replaced (the digest
 * swaps the old entry's hash for the new one); otherwise a new entry is
 * inserted at its sorted place and its hash XORed into the digest. Returns
 * the entry, or NULL on allocation failure or NULL argument (the view is
 * then unchanged). */
static inline flock_metadata_t* flock_group_view_add_metadata(
    flock_group_view_t* view, const char* key, const char* value)
{
    if (!key || !value) return NULL;

    ssize_t found = flock_group_view_metadata_binary_search(view, key);
    if (found >= 0) {
        flock_metadata_t* e = &view->metadata.data[found];
        char* new_value = flock_internal_strdup(value);
        if (!new_value) return NULL;
        view->digest ^= flock_hash_metadata(key, e->value) ^ flock_hash_metadata(key, value);
        free(e->value);
        e->value = new_value;
        return e;
    }

    void* data = view->metadata.data;
    if (!flock_internal_reserve(&data, &view->metadata.capacity,
                                view->metadata.size, sizeof(flock_metadata_t)))
        return NULL;
    view->metadata.data = (flock_metadata_t*)data;

    char* key_copy   = flock_internal_strdup(key);
    char* value_copy = flock_internal_strdup(value);
    if (!key_copy || !value_copy) {
        free(key_copy);
        free(value_copy);
        return NULL;
    }

    /* lower bound: first entry whose key is > the new one (none is equal) */
    uint64_t lo = 0, hi = view->metadata.size;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (strcmp(view->metadata.data[mid].key, key) < 0) lo = mid + 1;
        else                                               hi = mid;
    }

    flock_metadata_t* slot = &view->metadata.data[lo];
    memmove(slot + 1, slot, (size_t)(view->metadata.size - lo) * sizeof(flock_metadata_t));
    slot->key   = key_copy;
    slot->value = value_copy;
    view->metadata.size += 1;
    view->digest ^= flock_hash_metadata(key, value);
    return slot;
}

/* Removes the entry with this key and XORs its hash out of the digest.
 * Returns false (view unchanged) if there is no such key. */
static inline bool flock_group_view_remove_metadata(flock_group_view_t* view, const char* key)
{
    ssize_t found = flock_group_view_metadata_binary_search(view, key);
    if (found < 0) return false;
    uint64_t idx = (uint64_t)found;

    flock_metadata_t* e = &view->metadata.data[idx];
    view->digest ^= flock_hash_metadata(e->key, e->value);
    free(e->key);
    free(e->value);
    memmove(e, e + 1, (size_t)(view->metadata.size - idx - 1) * sizeof(flock_metadata_t));
    view->metadata.size -= 1;
    return true;
}

/* The value stored under key, or NULL if absent. */
static inline const char* flock_group_view_find_metadata(const flock_group_view_t* view,
                                                         const char* key)
{
    ssize_t idx = flock_group_view_metadata_binary_search(view, key);
    return idx < 0 ? NULL : view->metadata.data[idx].value;
}

/* The entry at `index` in key order, or NULL if index >= count. */
static inline flock_metadata_t* flock_group_view_metadata_at(flock_group_view_t* view,
                                                            size_t index)
{
    return index < view->metadata.size ? &view->metadata.data[index] : NULL;
}

/* Number of metadata entries. */
static inline size_t flock_group_view_metadata_count(flock_group_view_t* view)
{
    return (size_t)view->metadata.size;
}

/* ------------------------------------------------------------------------ */
/* Copy.                                                                    */

/* Deep-copies src's members and metadata into dst, which must be empty
 * (anything already there is kept and leaks into the result). Extra fields
 * are not copied. The digest is rebuilt entry by entry and so equals src's.
 * On allocation failure dst is cleared and false returned. */
static inline bool flock_group_view_copy(const flock_group_view_t* src, flock_group_view_t* dst)
{
    for (uint64_t i = 0; i < src->members.size; ++i) {
        const flock_member_t* m = &src->members.data[i];
        if (!flock_group_view_add_member(dst, m->address, m->provider_id)) {
            flock_group_view_clear(dst);
            return false;
        }
    }
    for (uint64_t i = 0; i < src->metadata.size; ++i) {
        const flock_metadata_t* e = &src->metadata.data[i];
        if (!flock_group_view_add_metadata(dst, e->key, e->value)) {
            flock_group_view_clear(dst);
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* Serialization (implemented in libmochi).                                 */

/*
 * Serializes the view to JSON text,
 *   {"members":[{"address":...,"provider_id":...},...],"metadata":{...}}
 * and calls serializer(context, text, length) once. Does not lock the view.
 * Returns FLOCK_ERR_INVALID_ARGS if serializer is NULL.
 */
flock_return_t flock_group_view_serialize(
    const flock_group_view_t* v,
    void (*serializer)(void*, const char*, size_t),
    void* context);

/* Writes the serialized view to filename, atomically replacing it. */
flock_return_t flock_group_view_serialize_to_file(
    const flock_group_view_t* v,
    const char* filename);

/* Parses str (str_len bytes) and, if valid, replaces the content of view
 * with it (digest recomputed). Invalid text: FLOCK_ERR_INVALID_CONFIG, view
 * untouched. */
flock_return_t flock_group_view_from_string(
    const char* str,
    size_t str_len,
    flock_group_view_t* view);

/* Same as flock_group_view_from_string on the content of filename;
 * FLOCK_ERR_INVALID_ARGS if the file cannot be read. */
flock_return_t flock_group_view_from_file(
    const char* filename,
    flock_group_view_t* view);

#ifdef __cplusplus
}
#endif

#endif /* FLOCK_GROUP_VIEW_H */
