/*
 * flock/cxx/client.hpp -- flock::Client, the C++ wrapper around a
 * flock_client_t (see flock-client.h).
 *
 * Source-compatible with upstream mochi-flock's C++ API:
 *
 *   thallium::engine engine("na+sm", THALLIUM_CLIENT_MODE);
 *   flock::Client client(engine);
 *   flock::GroupHandle group = client.makeGroupHandle(address, provider_id);
 *   flock::GroupView view = group.view();
 *
 * A Client is move-only; its destructor calls flock_client_finalize. It
 * keeps a thallium::engine referring to its margo instance (engine()), used
 * to look addresses up in makeGroupHandle(std::string, ...). A
 * default-constructed Client is null and cannot make handles.
 *
 * Errors: failing flock_* calls throw flock::Exception; a failing address
 * lookup in makeGroupHandle(std::string, ...) throws the
 * thallium::margo_exception of engine::lookup, as upstream's does.
 */
#ifndef FLOCK_CXX_CLIENT_HPP
#define FLOCK_CXX_CLIENT_HPP

#include <thallium.hpp>
#include <flock/flock-client.h>
#include <flock/flock-group.h>
#include <flock/cxx/exception.hpp>
#include <flock/cxx/group.hpp>

#include <cstdint>
#include <string>
#include <utility>

namespace flock {

class Client {
  public:
    /* A null client. */
    Client() noexcept = default;

    /* A client on a margo instance (client or server mode). pool: where the
     * client runs its operations; ABT_POOL_NULL means margo's handler pool. */
    Client(margo_instance_id mid, ABT_pool pool = ABT_POOL_NULL)
    : m_engine(mid) {
        FLOCK_CONVERT_AND_THROW(flock_client_init(mid, pool, &m_client));
    }

    /* A client on a thallium engine; a null pool means the engine's handler
     * pool. */
    Client(const thallium::engine& engine, thallium::pool pool = thallium::pool())
    : m_engine(engine) {
        FLOCK_CONVERT_AND_THROW(flock_client_init(
            engine.get_margo_instance(), pool.native_handle(), &m_client));
    }

    Client(const Client&)            = delete;
    Client& operator=(const Client&) = delete;

    Client(Client&& other) noexcept
    : m_engine(std::move(other.m_engine))
    , m_client(other.m_client) {
        other.m_client = FLOCK_CLIENT_NULL;
    }

    Client& operator=(Client&& other) noexcept {
        if(this != &other) {
            finalize();
            m_engine       = std::move(other.m_engine);
            m_client       = other.m_client;
            other.m_client = FLOCK_CLIENT_NULL;
        }
        return *this;
    }

    ~Client() {
        finalize();
    }

    /* A handle on the group that the provider (addr, provider_id) belongs
     * to. mode: FLOCK_MODE_* flags (FLOCK_MODE_INIT_UPDATE, ...). The
     * address stays the caller's. */
    GroupHandle makeGroupHandle(hg_addr_t addr, uint16_t provider_id,
                                uint32_t mode = 0) const {
        flock_group_handle_t gh = FLOCK_GROUP_HANDLE_NULL;
        FLOCK_CONVERT_AND_THROW(
            flock_group_handle_create(m_client, addr, provider_id, mode, &gh));
        return GroupHandle(gh, false);
    }

    /* Same, with the address given as a string (looked up with the client's
     * engine). */
    GroupHandle makeGroupHandle(const std::string& address, uint16_t provider_id,
                                uint32_t mode = 0) const {
        const thallium::endpoint ep = m_engine.lookup(address);
        return makeGroupHandle(ep.get_addr(), provider_id, mode);
    }

    flock_client_t handle() const noexcept { return m_client; }

    operator flock_client_t() const noexcept { return m_client; }

    /* The engine this client was made with (a shared handle on it). */
    thallium::engine engine() const { return m_engine; }

  private:
    void finalize() noexcept {
        if(m_client != FLOCK_CLIENT_NULL) {
            (void)flock_client_finalize(m_client);
            m_client = FLOCK_CLIENT_NULL;
        }
    }

    thallium::engine m_engine;
    flock_client_t   m_client = FLOCK_CLIENT_NULL;
};

} // namespace flock

#endif /* FLOCK_CXX_CLIENT_HPP */
