/*
 * yokan/cxx/server.hpp -- yokan::Provider, the C++ face of yokan/server.h.
 * Source-compatible with upstream mochi-yokan 0.10.
 */
#ifndef YOKAN_CXX_SERVER_HPP
#define YOKAN_CXX_SERVER_HPP

#include <yokan/cxx/exception.hpp>
#include <yokan/server.h>

#include <cstdlib>
#include <string>

namespace yokan {

/**
 * A Yokan provider owned by this object: destroyed with it, or when its
 * margo instance finalizes first (then handle() is YOKAN_PROVIDER_NULL).
 * Errors throw yokan::Exception.
 */
class Provider {
  public:
    Provider(margo_instance_id mid, uint16_t provider_id, const char* config, const struct yk_provider_args* args)
    : m_mid(mid) {
        yk_return_t err = yk_provider_register(mid, provider_id, config, args, &m_provider);
        YOKAN_CONVERT_AND_THROW(err);
        margo_provider_push_finalize_callback(mid, this, &Provider::on_finalize, this);
    }

    Provider(margo_instance_id mid, uint16_t provider_id, const char* config, ABT_pool pool = ABT_POOL_NULL,
             yk_bulk_cache_t cache = nullptr, remi_client_t remi_client = nullptr,
             remi_provider_t remi_provider = nullptr)
    : m_mid(mid) {
        struct yk_provider_args args;
        args.pool            = pool;
        args.cache           = cache;
        args.remi.client     = remi_client;
        args.remi.provider   = remi_provider;
        yk_return_t err      = yk_provider_register(mid, provider_id, config, &args, &m_provider);
        YOKAN_CONVERT_AND_THROW(err);
        margo_provider_push_finalize_callback(mid, this, &Provider::on_finalize, this);
    }

    Provider(const Provider&)            = delete;
    Provider& operator=(const Provider&) = delete;
    Provider& operator=(Provider&&)      = delete;

    /* The finalize callback follows the object to its new address. */
    Provider(Provider&& other)
    : m_mid(other.m_mid)
    , m_provider(other.m_provider) {
        other.m_provider = YOKAN_PROVIDER_NULL;
        if(m_provider != YOKAN_PROVIDER_NULL) {
            margo_provider_pop_finalize_callback(m_mid, &other);
            margo_provider_push_finalize_callback(m_mid, this, &Provider::on_finalize, this);
        }
    }

    ~Provider() {
        if(m_provider == YOKAN_PROVIDER_NULL) return;
        margo_provider_pop_finalize_callback(m_mid, this);
        yk_provider_destroy(m_provider);
    }

    /** The effective config as JSON. */
    std::string getConfig() const {
        char*       cfg = yk_provider_get_config(m_provider);
        std::string result(cfg ? cfg : "");
        std::free(cfg);
        return result;
    }

    /** The C handle (owned by this object). */
    yk_provider_t handle() const { return m_provider; }

  private:
    static void on_finalize(void* self) {
        Provider* p = static_cast<Provider*>(self);
        yk_provider_destroy(p->m_provider);
        p->m_provider = YOKAN_PROVIDER_NULL;
    }

    margo_instance_id m_mid      = MARGO_INSTANCE_NULL;
    yk_provider_t     m_provider = YOKAN_PROVIDER_NULL;
};

} // namespace yokan

#endif /* YOKAN_CXX_SERVER_HPP */
