/*
 * yokan/cxx/client.hpp -- yokan::Client (header-only, over the C API of
 * libmochi; source-compatible with upstream mochi-yokan 0.10).
 */
#ifndef YOKAN_CXX_CLIENT_HPP
#define YOKAN_CXX_CLIENT_HPP

#include <yokan/client.h>
#include <yokan/cxx/database.hpp>
#include <yokan/cxx/exception.hpp>
#include <memory>

namespace yokan {

class Client {
  public:
    Client() = default;
    explicit Client(margo_instance_id mid) {
        yk_client_t c = YOKAN_CLIENT_NULL;
        YOKAN_CONVERT_AND_THROW(yk_client_init(mid, &c));
        m_client = std::shared_ptr<yk_client>(c, [](yk_client_t p) { yk_client_finalize(p); });
    }

    Database makeDatabaseHandle(hg_addr_t addr, uint16_t provider_id, bool check = true) const {
        yk_database_handle_t h = YOKAN_DATABASE_HANDLE_NULL;
        YOKAN_CONVERT_AND_THROW(yk_database_handle_create(m_client.get(), addr, provider_id, check, &h));
        return Database(h, false, m_client);
    }

    /* Extension (libmochi): a group-aware handle on the distributed database
     * whose shards are the Yokan providers `provider_id` of the group's
     * members (see yk_database_handle_create_from_group). `group` is a
     * flock_group_handle_t; a flock::GroupHandle converts to it. */
    Database makeGroupDatabaseHandle(struct flock_group_handle* group, uint16_t provider_id) const {
        yk_database_handle_t h = YOKAN_DATABASE_HANDLE_NULL;
        YOKAN_CONVERT_AND_THROW(yk_database_handle_create_from_group(m_client.get(), group, provider_id, &h));
        return Database(h, false, m_client);
    }

    /* Extension (libmochi): the same, from a Flock group file. */
    Database makeGroupDatabaseHandle(const char* group_file, uint16_t provider_id) const {
        yk_database_handle_t h = YOKAN_DATABASE_HANDLE_NULL;
        YOKAN_CONVERT_AND_THROW(yk_database_handle_create_from_group_file(m_client.get(), group_file, provider_id, &h));
        return Database(h, false, m_client);
    }

    yk_client_t handle() const { return m_client.get(); }
    operator bool() const { return static_cast<bool>(m_client); }

  private:
    std::shared_ptr<yk_client> m_client;
};

} // namespace yokan

#endif
