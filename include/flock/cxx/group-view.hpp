/*
 * flock/cxx/group-view.hpp -- flock::GroupView, an owning C++ wrapper around
 * a flock_group_view_t (see flock-group-view.h).
 *
 * Source-compatible with upstream mochi-flock's C++ API:
 *
 *   flock::GroupView view;                       // empty view
 *   view.members().add("na+sm://1234-0", 42);    // kept sorted, digest updated
 *   view.metadata().add("key", "value");         // replaces an existing key
 *   size_t n = view.members().count();
 *   flock::GroupView::Member m = view.members()[0];   // m.address, m.provider_id
 *   const char* v = view.metadata()["key"];      // NULL if absent
 *   std::string json = view;                     // serialized (group file format)
 *
 * A GroupView owns its content: it is movable but not copyable (copy() makes
 * an explicit deep copy) and its destructor frees everything. members() and
 * metadata() return light proxies referring to the view; they must not
 * outlive it. The view is not locked by any of these methods: use lock() /
 * unlock() when it is shared between threads.
 *
 * Errors: members().remove(...) throws flock::Exception(FLOCK_ERR_NO_MEMBER)
 * when there is no such member; operator[] with an index past the end throws
 * std::out_of_range ("Invalid member index" / "Invalid metadata index");
 * conversion to std::string throws flock::Exception on a serializer error;
 * copy() throws flock::Exception(FLOCK_ERR_ALLOCATION) if memory runs out.
 */
#ifndef FLOCK_CXX_GROUP_VIEW_HPP
#define FLOCK_CXX_GROUP_VIEW_HPP

#include <flock/flock-group.h>
#include <flock/cxx/exception.hpp>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace flock {

class GroupHandle;
class Provider;

class GroupView {
    friend class GroupHandle;
    friend class Provider;

  public:
    /* A member, copied out of the view. */
    struct Member {
        std::string address;
        uint16_t    provider_id;
    };

    /* A metadata entry, copied out of the view. */
    struct Metadata {
        std::string key;
        std::string value;
    };

    /* Access to the members of a GroupView (returned by members()). */
    struct MembersProxy {
      private:
        friend class GroupView;

        GroupView& m_view;

        explicit MembersProxy(GroupView& view) noexcept
        : m_view(view) {}

        flock_group_view_t* raw() const noexcept { return &m_view.m_view; }

      public:
        MembersProxy(MembersProxy&&) noexcept = default;

        /* Inserts (address, provider_id) at its sorted position. Adding a
         * member that is already present is the caller's mistake (the view
         * then holds it twice). */
        void add(const char* address, uint16_t provider_id) {
            if(!flock_group_view_add_member(raw(), address, provider_id))
                throw Exception(FLOCK_ERR_ALLOCATION);
        }

        /* Removes the member at index (sorted order). */
        void remove(size_t index) {
            flock_member_t* member = flock_group_view_member_at(raw(), index);
            if(member == NULL || !flock_group_view_remove_member(raw(), member))
                throw Exception(FLOCK_ERR_NO_MEMBER);
        }

        /* Removes the member (address, provider_id). */
        void remove(const char* address, uint16_t provider_id) {
            flock_member_t* member =
                flock_group_view_find_member(raw(), address, provider_id);
            if(member == NULL || !flock_group_view_remove_member(raw(), member))
                throw Exception(FLOCK_ERR_NO_MEMBER);
        }

        /* True if (address, provider_id) is a member. */
        bool exists(const char* address, uint16_t provider_id) const {
            return flock_group_view_find_member(raw(), address, provider_id) != NULL;
        }

        /* Number of members. */
        size_t count() const {
            return flock_group_view_member_count(raw());
        }

        /* Copy of the member at index i (sorted order). */
        Member operator[](size_t i) const {
            const flock_member_t* member = flock_group_view_member_at(raw(), i);
            if(member == NULL) throw std::out_of_range("Invalid member index");
            return Member{std::string(member->address), member->provider_id};
        }
    };

    /* Access to the metadata of a GroupView (returned by metadata()). */
    struct MetadataProxy {
      private:
        friend class GroupView;

        GroupView& m_view;

        explicit MetadataProxy(GroupView& view) noexcept
        : m_view(view) {}

        flock_group_view_t* raw() const noexcept { return &m_view.m_view; }

      public:
        MetadataProxy(MetadataProxy&&) noexcept = default;

        /* Sets key to value (adding the key or replacing its value). */
        void add(const char* key, const char* value) {
            if(!flock_group_view_add_metadata(raw(), key, value))
                throw Exception(FLOCK_ERR_ALLOCATION);
        }

        /* Removes key; does nothing if it is absent. */
        void remove(const char* key) {
            (void)flock_group_view_remove_metadata(raw(), key);
        }

        /* Number of entries. */
        size_t count() const {
            return flock_group_view_metadata_count(raw());
        }

        /* Copy of the entry at index i (sorted by key). */
        Metadata operator[](size_t i) const {
            const flock_metadata_t* entry = flock_group_view_metadata_at(raw(), i);
            if(entry == NULL) throw std::out_of_range("Invalid metadata index");
            return Metadata{std::string(entry->key), std::string(entry->value)};
        }

        /* Any other integer type, so that metadata()[0] means index 0 rather
         * than being ambiguous with the key lookup below (a literal 0 also
         * converts to const char*). */
        template <typename Index,
                  typename std::enable_if<std::is_integral<Index>::value, int>::type = 0>
        Metadata operator[](Index i) const {
            if constexpr(std::is_signed<Index>::value) {
                if(i < 0) throw std::out_of_range("Invalid metadata index");
            }
            return (*this)[static_cast<size_t>(i)];
        }

        /* Value of key, or NULL if absent. The pointer stays valid until the
         * entry is changed or removed. */
        const char* operator[](const char* key) const {
            return flock_group_view_find_metadata(raw(), key);
        }
    };

    /* An empty view (digest 0). */
    GroupView() noexcept = default;

    /* Takes over the content of a C view. `view` is a bitwise copy of the
     * caller's flock_group_view_t: from now on this object owns the arrays
     * it points to, so the caller must not clear or reuse its original
     * (reinitialize it with FLOCK_GROUP_VIEW_INITIALIZER if it needs to). */
    GroupView(flock_group_view_t view) noexcept {
        FLOCK_GROUP_VIEW_MOVE(&view, &m_view);
    }

    GroupView(GroupView&& other) noexcept {
        FLOCK_GROUP_VIEW_MOVE(&other.m_view, &m_view);
    }

    GroupView& operator=(GroupView&& other) noexcept {
        if(this != &other) {
            flock_group_view_clear(&m_view);
            FLOCK_GROUP_VIEW_MOVE(&other.m_view, &m_view);
        }
        return *this;
    }

    GroupView(const GroupView&)            = delete;
    GroupView& operator=(const GroupView&) = delete;

    ~GroupView() {
        flock_group_view_clear(&m_view);
    }

    /* XOR-hash of the content; equal content gives an equal digest. */
    uint64_t digest() const noexcept {
        return flock_group_view_digest(&m_view);
    }

    void lock() {
        FLOCK_GROUP_VIEW_LOCK(&m_view);
    }

    void unlock() {
        FLOCK_GROUP_VIEW_UNLOCK(&m_view);
    }

    /* Removes every member and metadata entry. */
    void clear() noexcept {
        flock_group_view_clear(&m_view);
    }

    MembersProxy members() noexcept {
        return MembersProxy(*this);
    }

    MetadataProxy metadata() noexcept {
        return MetadataProxy(*this);
    }

    /* Independent deep copy (same members, metadata and digest). */
    GroupView copy() const {
        GroupView result;
        if(!flock_group_view_copy(&m_view, &result.m_view))
            throw Exception(FLOCK_ERR_ALLOCATION);
        return result;
    }

    /* The view serialized as JSON, in the group-file format. */
    operator std::string() const {
        SerializedText out;
        const flock_return_t ret =
            flock_group_view_serialize(&m_view, &GroupView::store_text, &out);
        FLOCK_CONVERT_AND_THROW(ret);
        if(out.failed) throw Exception(FLOCK_ERR_ALLOCATION);
        return std::move(out.text);
    }

  private:
    struct SerializedText {
        std::string text;
        bool        failed = false;
    };

    /* Called from the C library: must not let an exception escape. */
    static void store_text(void* ctx, const char* data, size_t size) noexcept {
        SerializedText* out = static_cast<SerializedText*>(ctx);
        try {
            out->text.assign(data, size);
        } catch(...) {
            out->failed = true;
        }
    }

    flock_group_view_t m_view = FLOCK_GROUP_VIEW_INITIALIZER;
};

} // namespace flock

#endif /* FLOCK_CXX_GROUP_VIEW_HPP */
