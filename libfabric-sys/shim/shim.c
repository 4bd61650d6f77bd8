/* See shim.h. Every function returns libfabric's negative error codes
 * unchanged so the Rust side can name them. */
#include "shim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>

_Static_assert(FI_EAGAIN == 11, "libfabric FI_EAGAIN changed");
_Static_assert(FI_EAVAIL == 259, "libfabric FI_EAVAIL changed");

struct fis_endpoint {
    struct fi_info *info;
    struct fid_fabric *fabric;
    struct fid_domain *domain;
    struct fid_cq *cq;
    struct fid_av *av;
    struct fid_ep *ep;
    int wait_fd;
};

static void close_fid(struct fid *fid) {
    if (fid) fi_close(fid);
}

void fis_close(fis_endpoint *e) {
    if (!e) return;
    close_fid(e->ep ? &e->ep->fid : NULL);
    close_fid(e->av ? &e->av->fid : NULL);
    close_fid(e->cq ? &e->cq->fid : NULL);
    close_fid(e->domain ? &e->domain->fid : NULL);
    close_fid(e->fabric ? &e->fabric->fid : NULL);
    if (e->info) fi_freeinfo(e->info);
    free(e);
}

static int fail(fis_endpoint *e, int rc, const char *step, char *errbuf, size_t errlen) {
    if (errbuf && errlen)
        snprintf(errbuf, errlen, "%s: %s (%d)", step, fi_strerror(rc < 0 ? -rc : rc), rc);
    fis_close(e);
    return rc < 0 ? rc : -rc;
}

int fis_open(const char *provider, const char *node, const char *service, int want_wait_fd,
             fis_endpoint **out, char *errbuf, size_t errlen) {
    if (!provider || !out) return -FI_EINVAL;
    *out = NULL;
    fis_endpoint *e = calloc(1, sizeof *e);
    if (!e) return -FI_ENOMEM;
    e->wait_fd = -1;

    struct fi_info *hints = fi_allocinfo();
    if (!hints) return fail(e, -FI_ENOMEM, "fi_allocinfo", errbuf, errlen);
    hints->ep_attr->type = FI_EP_RDM;
    hints->caps = FI_MSG;
    hints->mode = 0;
    hints->domain_attr->mr_mode = FI_MR_VIRT_ADDR | FI_MR_ALLOCATED | FI_MR_PROV_KEY;
    hints->domain_attr->threading = FI_THREAD_DOMAIN;
    hints->domain_attr->data_progress = FI_PROGRESS_MANUAL;
    hints->domain_attr->control_progress = FI_PROGRESS_MANUAL;
    hints->fabric_attr->prov_name = strdup(provider);
    uint64_t flags = (node || service) ? FI_SOURCE : 0;
    int rc = fi_getinfo(FI_VERSION(1, 11), node, service, flags, hints, &e->info);
    fi_freeinfo(hints);
    if (rc) return fail(e, rc, "fi_getinfo", errbuf, errlen);

    rc = fi_fabric(e->info->fabric_attr, &e->fabric, NULL);
    if (rc) return fail(e, rc, "fi_fabric", errbuf, errlen);
    rc = fi_domain(e->fabric, e->info, &e->domain, NULL);
    if (rc) return fail(e, rc, "fi_domain", errbuf, errlen);

    struct fi_cq_attr cq_attr;
    memset(&cq_attr, 0, sizeof cq_attr);
    cq_attr.format = FI_CQ_FORMAT_MSG;
    cq_attr.size = 1024;
    cq_attr.wait_obj = want_wait_fd ? FI_WAIT_FD : FI_WAIT_NONE;
    rc = fi_cq_open(e->domain, &cq_attr, &e->cq, NULL);
    if (rc) return fail(e, rc, "fi_cq_open", errbuf, errlen);
    if (want_wait_fd) {
        rc = fi_control(&e->cq->fid, FI_GETWAIT, &e->wait_fd);
        if (rc) return fail(e, rc, "fi_control(FI_GETWAIT)", errbuf, errlen);
    }

    struct fi_av_attr av_attr;
    memset(&av_attr, 0, sizeof av_attr);
    av_attr.type = FI_AV_MAP;
    rc = fi_av_open(e->domain, &av_attr, &e->av, NULL);
    if (rc) return fail(e, rc, "fi_av_open", errbuf, errlen);

    rc = fi_endpoint(e->domain, e->info, &e->ep, NULL);
    if (rc) return fail(e, rc, "fi_endpoint", errbuf, errlen);
    rc = fi_ep_bind(e->ep, &e->cq->fid, FI_SEND | FI_RECV);
    if (rc) return fail(e, rc, "fi_ep_bind(cq)", errbuf, errlen);
    rc = fi_ep_bind(e->ep, &e->av->fid, 0);
    if (rc) return fail(e, rc, "fi_ep_bind(av)", errbuf, errlen);
    rc = fi_enable(e->ep);
    if (rc) return fail(e, rc, "fi_enable", errbuf, errlen);
    *out = e;
    return 0;
}

size_t fis_max_msg_size(const fis_endpoint *e) {
    return e && e->info && e->info->ep_attr ? e->info->ep_attr->max_msg_size : 0;
}

int fis_getname(fis_endpoint *e, void *buf, size_t *len) {
    if (!e || !buf || !len) return -FI_EINVAL;
    return fi_getname(&e->ep->fid, buf, len);
}

int fis_av_insert(fis_endpoint *e, const void *name, uint64_t *fi_addr) {
    if (!e || !name || !fi_addr) return -FI_EINVAL;
    fi_addr_t addr = FI_ADDR_NOTAVAIL;
    int n = fi_av_insert(e->av, name, 1, &addr, 0, NULL);
    if (n < 0) return n;
    if (n != 1 || addr == FI_ADDR_NOTAVAIL) return -FI_EADDRNOTAVAIL;
    *fi_addr = addr;
    return 0;
}

int fis_av_remove(fis_endpoint *e, uint64_t fi_addr) {
    if (!e) return -FI_EINVAL;
    fi_addr_t addr = fi_addr;
    return fi_av_remove(e->av, &addr, 1, 0);
}

ssize_t fis_send(fis_endpoint *e, const void *buf, size_t len, uint64_t dest, void *context) {
    return fi_send(e->ep, buf, len, NULL, dest, context);
}

ssize_t fis_inject(fis_endpoint *e, const void *buf, size_t len, uint64_t dest) {
    return fi_inject(e->ep, buf, len, dest);
}

size_t fis_inject_size(const fis_endpoint *e) {
    return e && e->info && e->info->tx_attr ? e->info->tx_attr->inject_size : 0;
}

ssize_t fis_recv(fis_endpoint *e, void *buf, size_t len, void *context) {
    return fi_recv(e->ep, buf, len, NULL, FI_ADDR_UNSPEC, context);
}

ssize_t fis_cq_read(fis_endpoint *e, fis_completion *out, size_t count) {
    struct fi_cq_msg_entry entries[64];
    if (count > 64) count = 64;
    ssize_t n = fi_cq_read(e->cq, entries, count);
    for (ssize_t i = 0; i < n; i++) {
        out[i].context = entries[i].op_context;
        out[i].len = entries[i].len;
        out[i].flags = ((entries[i].flags & FI_SEND) ? FIS_FLAG_SEND : 0) |
                       ((entries[i].flags & FI_RECV) ? FIS_FLAG_RECV : 0);
    }
    return n;
}

int fis_cq_readerr(fis_endpoint *e, fis_error *out) {
    struct fi_cq_err_entry entry;
    memset(&entry, 0, sizeof entry);
    ssize_t n = fi_cq_readerr(e->cq, &entry, 0);
    if (n < 0) return (int)n;
    out->context = entry.op_context;
    out->err = entry.err;
    out->prov_errno = entry.prov_errno;
    const char *msg = fi_cq_strerror(e->cq, entry.prov_errno, entry.err_data, NULL, 0);
    snprintf(out->message, sizeof out->message, "%s", msg ? msg : fi_strerror(entry.err));
    return 1;
}

int fis_wait_fd(fis_endpoint *e) { return e ? e->wait_fd : -1; }

int fis_trywait(fis_endpoint *e) {
    struct fid *fids[1] = {&e->cq->fid};
    return fi_trywait(e->fabric, fids, 1);
}

const char *fis_strerror(int err) { return fi_strerror(err < 0 ? -err : err); }
