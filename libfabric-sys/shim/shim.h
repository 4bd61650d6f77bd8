/* A narrow C face over libfabric for the Rust side: one reliable-datagram
 * endpoint with its completion queue and address vector, plus the handful of
 * data-path calls that libfabric only offers as static inline functions. */
#ifndef MOCHI_FABRIC_SHIM_H
#define MOCHI_FABRIC_SHIM_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct fis_endpoint fis_endpoint;

typedef struct fis_completion {
    void *context;
    uint64_t flags; /* FIS_FLAG_SEND / FIS_FLAG_RECV */
    size_t len;
} fis_completion;

typedef struct fis_error {
    void *context;
    int err;        /* positive libfabric error number */
    int prov_errno;
    char message[160];
} fis_error;

#define FIS_FLAG_SEND 1u
#define FIS_FLAG_RECV 2u

int fis_open(const char *provider, const char *node, const char *service, int want_wait_fd,
             fis_endpoint **out, char *errbuf, size_t errlen);
void fis_close(fis_endpoint *ep);
size_t fis_max_msg_size(const fis_endpoint *ep);
int fis_getname(fis_endpoint *ep, void *buf, size_t *len);
int fis_av_insert(fis_endpoint *ep, const void *name, uint64_t *fi_addr);
int fis_av_remove(fis_endpoint *ep, uint64_t fi_addr);
ssize_t fis_send(fis_endpoint *ep, const void *buf, size_t len, uint64_t dest, void *context);
/* Sends a small message whose buffer may be reused at once; no completion. */
ssize_t fis_inject(fis_endpoint *ep, const void *buf, size_t len, uint64_t dest);
/* Largest message fis_inject takes (0: none). */
size_t fis_inject_size(const fis_endpoint *ep);
ssize_t fis_recv(fis_endpoint *ep, void *buf, size_t len, void *context);
ssize_t fis_cq_read(fis_endpoint *ep, fis_completion *out, size_t count);
int fis_cq_readerr(fis_endpoint *ep, fis_error *out);
int fis_wait_fd(fis_endpoint *ep);
int fis_trywait(fis_endpoint *ep);
const char *fis_strerror(int err);
#endif
