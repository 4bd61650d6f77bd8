/*
 * flock/cxx/group.hpp -- flock::GroupHandle, a reference-counted C++ handle
 * on a Flock group (wraps flock_group_handle_t, see flock-group.h).
 *
 * Source-compatible with upstream mochi-flock's C++ API. A GroupHandle is
 * made by flock::Client::makeGroupHandle(...), by GroupHandle::FromFile /
 * GroupHandle::FromSerialized, or by wrapping a C handle. Copies share the C
 * handle (flock_group_handle_ref_incr); destroying or overwriting a
 * GroupHandle releases its reference (flock_group_handle_release). A
 * default-constructed GroupHandle is null.
 *
 *   flock::GroupView view = group.view();   // copy of the cached view
 *   group.update();                         // re-fetch it from the group
 *
 * Every failing C call throws flock::Exception with its flock_return_t
 * (destructors ignore errors).
 */
#ifndef FLOCK_CXX_GROUP_HPP
#define FLOCK_CXX_GROUP_HPP

#include <flock/flock-group.h>
#include <flock/cxx/exception.hpp>
#include <flock/cxx/group-view.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace flock {

class Client;

class GroupHandle {
    friend class Client;

  public:
    /* A null handle. */
    GroupHandle() noexcept = default;

    /* Wraps a C handle. With copy == true this object takes a new reference
     * (flock_group_handle_ref_incr) and the caller keeps its own; with
     * copy == false it adopts the caller's reference. */
    GroupHandle(flock_group_handle_t gh, bool copy = true)
    : m_gh(gh) {
        if(copy && m_gh != FLOCK_GROUP_HANDLE_NULL) {
            const flock_return_t ret = flock_group_handle_ref_incr(m_gh);
            if(ret != FLOCK_SUCCESS) {
                m_gh = FLOCK_GROUP_HANDLE_NULL;
                throw Exception(ret);
            }
        }
    }

    /* Contacts the group member (addr, provider_id). As upstream, `check`
     * is passed as the mode: true means FLOCK_MODE_INIT_UPDATE. */
    GroupHandle(flock_client_t client, hg_addr_t addr, uint16_t provider_id,
                bool check = true) {
        const uint32_t mode = check ? FLOCK_MODE_INIT_UPDATE : 0;
        FLOCK_CONVERT_AND_THROW(
            flock_group_handle_create(client, addr, provider_id, mode, &m_gh));
    }

    GroupHandle(const GroupHandle& other)
    : GroupHandle(other.m_gh, true) {}

    GroupHandle(GroupHandle&& other) noexcept
    : m_gh(other.m_gh) {
        other.m_gh = FLOCK_GROUP_HANDLE_NULL;
    }

    GroupHandle& operator=(const GroupHandle& other) {
        if(this == &other || m_gh == other.m_gh) return *this;
        /* take the new reference first: on failure *this is unchanged */
        if(other.m_gh != FLOCK_GROUP_HANDLE_NULL)
            FLOCK_CONVERT_AND_THROW(flock_group_handle_ref_incr(other.m_gh));
        flock_group_handle_t old = m_gh;
        m_gh = other.m_gh;
        if(old != FLOCK_GROUP_HANDLE_NULL)
            FLOCK_CONVERT_AND_THROW(flock_group_handle_release(old));
        return *this;
    }

    GroupHandle& operator=(GroupHandle&& other) {
        if(this == &other || m_gh == other.m_gh) return *this;
        flock_group_handle_t old = m_gh;
        m_gh       = other.m_gh;
        other.m_gh = FLOCK_GROUP_HANDLE_NULL;
        if(old != FLOCK_GROUP_HANDLE_NULL)
            FLOCK_CONVERT_AND_THROW(flock_group_handle_release(old));
        return *this;
    }

    ~GroupHandle() {
        if(m_gh != FLOCK_GROUP_HANDLE_NULL) (void)flock_group_handle_release(m_gh);
    }

    /* A handle on the group described by a group file (JSON written by a
     * provider or by GroupView serialization). mode: FLOCK_MODE_* flags. */
    static GroupHandle FromFile(flock_client_t client, const char* filename,
                                uint32_t mode = 0) {
        flock_group_handle_t gh = FLOCK_GROUP_HANDLE_NULL;
        FLOCK_CONVERT_AND_THROW(
            flock_group_handle_create_from_file(client, filename, mode, &gh));
        return GroupHandle(gh, false);
    }

    /* A handle on the group described by a serialized view (the text of a
     * group file, e.g. std::string(view)). mode: FLOCK_MODE_* flags. */
    static GroupHandle FromSerialized(flock_client_t client,
                                      std::string_view serialized_view,
                                      uint32_t mode = 0) {
        flock_group_handle_t gh = FLOCK_GROUP_HANDLE_NULL;
        FLOCK_CONVERT_AND_THROW(flock_group_handle_create_from_serialized(
            client, serialized_view.data(), serialized_view.size(), mode, &gh));
        return GroupHandle(gh, false);
    }

    /* A copy of the view cached in the handle (no communication). */
    GroupView view() const {
        GroupView result;
        FLOCK_CONVERT_AND_THROW(flock_group_get_view(m_gh, &result.m_view));
        return result;
    }

    /* Fetches the current view from the group (blocks until done). */
    void update() const {
        FLOCK_CONVERT_AND_THROW(flock_group_update_view(m_gh, NULL));
    }

    flock_group_handle_t handle() const noexcept { return m_gh; }

    operator flock_group_handle_t() const noexcept { return m_gh; }

  private:
    flock_group_handle_t m_gh = FLOCK_GROUP_HANDLE_NULL;
};

} // namespace flock

#endif /* FLOCK_CXX_GROUP_HPP */
