/*
 * flock/cxx/server.hpp -- flock::Provider (wraps flock_provider_t, see
 * flock-server.h) and flock::Observer (membership / metadata update
 * callbacks of a provider).
 *
 * Source-compatible with upstream mochi-flock's C++ API:
 *
 *   thallium::engine engine("na+sm", THALLIUM_SERVER_MODE);
 *   flock::GroupView view;
 *   view.members().add(std::string(engine.self()).c_str(), 42);
 *   flock::Provider provider(engine, 42, R"({"group":{"type":"static"}})", view);
 *   engine.wait_for_finalize();
 *
 * The provider takes the content of the initial view (which is left empty).
 * A Provider is move-only; its destructor calls flock_provider_destroy. If
 * the margo instance is finalized first, the provider is destroyed by the
 * library at that point and the Provider object becomes null (it watches
 * the instance through a margo provider finalize callback), so destroying
 * it afterwards is harmless.
 *
 * Differences from upstream (none affects programs that compile upstream):
 *  - this header and client.hpp have distinct include guards (upstream's
 *    share one, so a file could not include both);
 *  - Observer has a default constructor (upstream's deleted copy/move
 *    constructors suppressed it, so no subclass could be instantiated);
 *  - an exception thrown by an Observer method ends the program
 *    (std::terminate) instead of unwinding through the C library.
 */
#ifndef FLOCK_CXX_SERVER_HPP
#define FLOCK_CXX_SERVER_HPP

#include <thallium.hpp>
#include <flock/flock-server.h>
#include <flock/cxx/exception.hpp>
#include <flock/cxx/group-view.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace flock {

/* Receives the membership and metadata changes seen by a Provider (see
 * Provider::addObserver). Called from the library's threads. */
class Observer {
  public:
    Observer() noexcept = default;

    Observer(const Observer&)            = delete;
    Observer(Observer&&)                 = delete;
    Observer& operator=(const Observer&) = delete;
    Observer& operator=(Observer&&)      = delete;

    virtual ~Observer() = default;

    /* A member (address, provider_id) joined, left, died or moved. */
    virtual void onMembershipUpdate(flock_update_t update, const char* address,
                                    uint16_t provider_id) = 0;

    /* Metadata key was set to value. */
    virtual void onMetadataUpdate(const char* key, const char* value) = 0;
};

class Provider {
  public:
    /* A null provider. */
    Provider() noexcept = default;

    /* Registers a provider with id provider_id on a listening margo
     * instance. config: the provider's JSON configuration, e.g.
     * {"group":{"type":"static"}} (see flock_provider_register).
     * initial_view: the group as this provider starts with it; its content
     * is taken over. pool: where the provider's RPCs run (ABT_POOL_NULL:
     * margo's handler pool). */
    Provider(margo_instance_id mid, uint16_t provider_id, const char* config,
             GroupView& initial_view, ABT_pool pool = ABT_POOL_NULL)
    : m_mid(mid) {
        flock_provider_args args{};
        args.pool         = pool;
        args.initial_view = &initial_view.m_view;
        args.backend      = NULL;
        args.gateway      = NULL;
        flock_provider_t provider = FLOCK_PROVIDER_NULL;
        FLOCK_CONVERT_AND_THROW(
            flock_provider_register(mid, provider_id, config, &args, &provider));
        m_provider = provider;
        watch_finalize();
    }

    /* Same, on a thallium engine (a null pool means the handler pool). */
    Provider(const thallium::engine& engine, uint16_t provider_id,
             const char* config, GroupView& initial_view,
             const thallium::pool& pool = thallium::pool())
    : Provider(engine.get_margo_instance(), provider_id, config, initial_view,
               pool.native_handle()) {}

    Provider(const Provider&)            = delete;
    Provider& operator=(const Provider&) = delete;

    Provider(Provider&& other) noexcept {
        take(other);
    }

    Provider& operator=(Provider&& other) noexcept {
        if(this != &other) {
            destroy();
            take(other);
        }
        return *this;
    }

    ~Provider() {
        destroy();
    }

    /* Calls observer->onMembershipUpdate / onMetadataUpdate for every
     * change. The observer pointer identifies the registration (adding the
     * same observer twice keeps one registration); it must stay valid until
     * removeObserver or the provider's destruction. */
    void addObserver(Observer* observer) {
        FLOCK_CONVERT_AND_THROW(flock_provider_add_update_callbacks(
            m_provider, &Provider::membership_trampoline,
            &Provider::metadata_trampoline, observer));
    }

    /* Stops notifying observer. */
    void removeObserver(Observer* observer) {
        FLOCK_CONVERT_AND_THROW(
            flock_provider_remove_update_callbacks(m_provider, observer));
    }

    /* The provider's effective configuration (JSON). Throws
     * flock::Exception(FLOCK_ERR_OTHER) if it cannot be obtained (e.g. on a
     * null provider). */
    std::string config() const {
        char* text = flock_provider_get_config(m_provider);
        if(text == NULL) throw Exception(FLOCK_ERR_OTHER);
        std::string result;
        try {
            result = text;
        } catch(...) {
            std::free(text);
            throw;
        }
        std::free(text);
        return result;
    }

    flock_provider_t handle() const noexcept { return m_provider; }

    operator flock_provider_t() const noexcept { return m_provider; }

  private:
    static void on_margo_finalize(void* self) {
        static_cast<Provider*>(self)->m_provider = FLOCK_PROVIDER_NULL;
    }

    static void membership_trampoline(void* ctx, flock_update_t update,
                                      const char* address,
                                      uint16_t provider_id) noexcept {
        static_cast<Observer*>(ctx)->onMembershipUpdate(update, address, provider_id);
    }

    static void metadata_trampoline(void* ctx, const char* key,
                                    const char* value) noexcept {
        static_cast<Observer*>(ctx)->onMetadataUpdate(key, value);
    }

    /* The finalize callback is registered with `this` as owner; a moved
     * Provider re-registers it under its new address. */
    void watch_finalize() noexcept {
        margo_provider_push_finalize_callback(m_mid, this, &Provider::on_margo_finalize,
                                              this);
    }

    void unwatch_finalize() noexcept {
        (void)margo_provider_pop_finalize_callback(m_mid, this);
    }

    void take(Provider& other) noexcept {
        m_mid      = other.m_mid;
        m_provider = other.m_provider;
        if(m_provider != FLOCK_PROVIDER_NULL) {
            other.unwatch_finalize();
            other.m_provider = FLOCK_PROVIDER_NULL;
            watch_finalize();
        }
    }

    void destroy() noexcept {
        if(m_provider != FLOCK_PROVIDER_NULL) {
            unwatch_finalize();
            (void)flock_provider_destroy(m_provider);
            m_provider = FLOCK_PROVIDER_NULL;
        }
    }

    margo_instance_id m_mid      = MARGO_INSTANCE_NULL;
    flock_provider_t  m_provider = FLOCK_PROVIDER_NULL;
};

} // namespace flock

#endif /* FLOCK_CXX_SERVER_HPP */
