/*
 * yokan/cxx/database.hpp -- yokan::Database (header-only, over the C API of
 * libmochi; source-compatible with upstream mochi-yokan 0.10, without
 * the Timeout extras). Collections are made, dropped and tested here; their
 * documents are reached through yokan::Collection (yokan/cxx/collection.hpp).
 */
#ifndef YOKAN_CXX_DATABASE_HPP
#define YOKAN_CXX_DATABASE_HPP

#include <yokan/client.h>
#include <yokan/collection.h>
#include <yokan/database.h>
#include <yokan/cxx/exception.hpp>
#include <exception>
#include <functional>
#include <memory>
#include <vector>

namespace yokan {

class Database {
  public:
    using fetch_callback_type = std::function<yk_return_t(size_t, const void*, size_t, const void*, size_t)>;
    using iter_callback_type = fetch_callback_type;

    Database() = default;
    Database(yk_database_handle_t db, bool copy = true, std::shared_ptr<yk_client> owner = nullptr) : m_owner(std::move(owner)) {
        if (copy) YOKAN_CONVERT_AND_THROW(yk_database_handle_ref_incr(db));
        m_db = std::shared_ptr<yk_database_handle>(db, [](yk_database_handle_t p) { yk_database_handle_release(p); });
    }

    yk_database_handle_t handle() const { return m_db.get(); }

    size_t count(int32_t mode = YOKAN_MODE_DEFAULT) const {
        size_t c = 0;
        YOKAN_CONVERT_AND_THROW(yk_count(h(), mode, &c));
        return c;
    }
    void put(const void* key, size_t ksize, const void* value, size_t vsize, int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_put(h(), mode, key, ksize, value, vsize));
    }
    void putMulti(size_t count, const void* const* keys, const size_t* ksizes, const void* const* values,
                  const size_t* vsizes, int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_put_multi(h(), mode, count, keys, ksizes, values, vsizes));
    }
    void putPacked(size_t count, const void* keys, const size_t* ksizes, const void* values, const size_t* vsizes,
                   int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_put_packed(h(), mode, count, keys, ksizes, values, vsizes));
    }
    bool exists(const void* key, size_t ksize, int32_t mode = YOKAN_MODE_DEFAULT) const {
        uint8_t e = 0;
        YOKAN_CONVERT_AND_THROW(yk_exists(h(), mode, key, ksize, &e));
        return e != 0;
    }
    std::vector<bool> existsMulti(size_t count, const void* const* keys, const size_t* ksizes,
                                  int32_t mode = YOKAN_MODE_DEFAULT) const {
        std::vector<uint8_t> flags(1 + count / 8);
        YOKAN_CONVERT_AND_THROW(yk_exists_multi(h(), mode, count, keys, ksizes, flags.data()));
        return unpack(flags, count);
    }
    std::vector<bool> existsPacked(size_t count, const void* keys, const size_t* ksizes,
                                   int32_t mode = YOKAN_MODE_DEFAULT) const {
        std::vector<uint8_t> flags(1 + count / 8);
        YOKAN_CONVERT_AND_THROW(yk_exists_packed(h(), mode, count, keys, ksizes, flags.data()));
        return unpack(flags, count);
    }
    size_t length(const void* key, size_t ksize, int32_t mode = YOKAN_MODE_DEFAULT) const {
        size_t s = 0;
        YOKAN_CONVERT_AND_THROW(yk_length(h(), mode, key, ksize, &s));
        return s;
    }
    void lengthMulti(size_t count, const void* const* keys, const size_t* ksizes, size_t* vsizes,
                     int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_length_multi(h(), mode, count, keys, ksizes, vsizes));
    }
    void lengthPacked(size_t count, const void* keys, const size_t* ksizes, size_t* vsizes,
                      int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_length_packed(h(), mode, count, keys, ksizes, vsizes));
    }
    void get(const void* key, size_t ksize, void* value, size_t* vsize, int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_get(h(), mode, key, ksize, value, vsize));
    }
    void getMulti(size_t count, const void* const* keys, const size_t* ksizes, void* const* values, size_t* vsizes,
                  int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_get_multi(h(), mode, count, keys, ksizes, values, vsizes));
    }
    void getPacked(size_t count, const void* keys, const size_t* ksizes, size_t vbufsize, void* values, size_t* vsizes,
                   int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_get_packed(h(), mode, count, keys, ksizes, vbufsize, values, vsizes));
    }
    void fetch(const void* key, size_t ksize, yk_keyvalue_callback_t cb, void* uargs, int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_fetch(h(), mode, key, ksize, cb, uargs));
    }
    void fetch(const void* key, size_t ksize, const fetch_callback_type& cb, int32_t mode = YOKAN_MODE_DEFAULT) const {
        Relay r{cb};
        r.done(yk_fetch(h(), mode, key, ksize, Relay::call, &r));
    }
    void fetchMulti(size_t count, const void* const* keys, const size_t* ksizes, const fetch_callback_type& cb,
                    const yk_fetch_options_t* options = nullptr, int32_t mode = YOKAN_MODE_DEFAULT) const {
        Relay r{cb};
        r.done(yk_fetch_multi(h(), mode, count, keys, ksizes, Relay::call, &r, options));
    }
    void fetchPacked(size_t count, const void* keys, const size_t* ksizes, const fetch_callback_type& cb,
                     const yk_fetch_options_t* options = nullptr, int32_t mode = YOKAN_MODE_DEFAULT) const {
        Relay r{cb};
        r.done(yk_fetch_packed(h(), mode, count, keys, ksizes, Relay::call, &r, options));
    }
    void erase(const void* key, size_t ksize, int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_erase(h(), mode, key, ksize));
    }
    void eraseMulti(size_t count, const void* const* keys, const size_t* ksizes, int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_erase_multi(h(), mode, count, keys, ksizes));
    }
    void erasePacked(size_t count, const void* keys, const size_t* ksizes, int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_erase_packed(h(), mode, count, keys, ksizes));
    }
    void eraseRange(const void* prefix, size_t size, int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_erase_range(h(), mode, prefix, size));
    }
    void listKeys(const void* from_key, size_t from_ksize, const void* filter, size_t filter_size, size_t count,
                  void* const* keys, size_t* ksizes, int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_list_keys(h(), mode, from_key, from_ksize, filter, filter_size, count, keys, ksizes));
    }
    void listKeysPacked(const void* from_key, size_t from_ksize, const void* filter, size_t filter_size, size_t count,
                        void* keys, size_t keys_buf_size, size_t* ksizes, int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_list_keys_packed(h(), mode, from_key, from_ksize, filter, filter_size, count, keys,
                                                    keys_buf_size, ksizes));
    }
    void listKeyVals(const void* from_key, size_t from_ksize, const void* filter, size_t filter_size, size_t count,
                     void* const* keys, size_t* ksizes, void* const* values, size_t* vsizes,
                     int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_list_keyvals(h(), mode, from_key, from_ksize, filter, filter_size, count, keys, ksizes,
                                                values, vsizes));
    }
    void listKeyValsPacked(const void* from_key, size_t from_ksize, const void* filter, size_t filter_size, size_t count,
                           void* keys, size_t keys_buf_size, size_t* ksizes, void* values, size_t vals_buf_size,
                           size_t* vsizes, int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_list_keyvals_packed(h(), mode, from_key, from_ksize, filter, filter_size, count, keys,
                                                       keys_buf_size, ksizes, values, vals_buf_size, vsizes));
    }
    /* The _bulk forms: the payload is [offset, offset + size) of `data` (see yokan/database.h). */
    void putBulk(size_t count, const char* origin, hg_bulk_t data, size_t offset, size_t size,
                 int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_put_bulk(h(), mode, count, origin, data, offset, size));
    }
    void existsBulk(size_t count, const char* origin, hg_bulk_t data, size_t offset, size_t size,
                    int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_exists_bulk(h(), mode, count, origin, data, offset, size));
    }
    void lengthBulk(size_t count, const char* origin, hg_bulk_t data, size_t offset, size_t size,
                    int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_length_bulk(h(), mode, count, origin, data, offset, size));
    }
    void getBulk(size_t count, const char* origin, hg_bulk_t data, size_t offset, size_t size, bool packed,
                 int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_get_bulk(h(), mode, count, origin, data, offset, size, packed));
    }
    void fetchBulk(size_t count, const char* origin, hg_bulk_t data, size_t offset, size_t size, yk_keyvalue_callback_t cb,
                   void* uargs, const yk_fetch_options_t* options = nullptr, int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_fetch_bulk(h(), mode, count, origin, data, offset, size, cb, uargs, options));
    }
    void fetchBulk(size_t count, const char* origin, hg_bulk_t data, size_t offset, size_t size,
                   const fetch_callback_type& cb, const yk_fetch_options_t* options = nullptr,
                   int32_t mode = YOKAN_MODE_DEFAULT) const {
        Relay r{cb};
        r.done(yk_fetch_bulk(h(), mode, count, origin, data, offset, size, Relay::call, &r, options));
    }
    void eraseBulk(size_t count, const char* origin, hg_bulk_t data, size_t offset, size_t size,
                   int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_erase_bulk(h(), mode, count, origin, data, offset, size));
    }
    void listKeysBulk(size_t from_ksize, size_t filter_size, const char* origin, hg_bulk_t data, size_t offset,
                      size_t keys_buf_size, bool packed, size_t count, int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_list_keys_bulk(h(), mode, from_ksize, filter_size, origin, data, offset, keys_buf_size,
                                                  packed, count));
    }
    void listKeyValsBulk(size_t from_ksize, size_t filter_size, const char* origin, hg_bulk_t data, size_t offset,
                         size_t keys_buf_size, size_t vals_buf_size, bool packed, size_t count,
                         int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_list_keyvals_bulk(h(), mode, from_ksize, filter_size, origin, data, offset,
                                                     keys_buf_size, vals_buf_size, packed, count));
    }
    void iter(const void* from_key, size_t from_ksize, const void* filter, size_t filter_size, size_t count,
              const iter_callback_type& cb, const yk_iter_options_t* options = nullptr,
              int32_t mode = YOKAN_MODE_DEFAULT) const {
        Relay r{cb};
        r.done(yk_iter(h(), mode, from_key, from_ksize, filter, filter_size, count, Relay::call, &r, options));
    }

    /* Creating a collection that exists throws YOKAN_ERR_KEY_EXISTS. */
    void createCollection(const char* name, int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_collection_create(h(), name, mode));
    }
    void dropCollection(const char* name, int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_collection_drop(h(), name, mode));
    }
    bool collectionExists(const char* name, int32_t mode = YOKAN_MODE_DEFAULT) const {
        uint8_t flag = 0;
        YOKAN_CONVERT_AND_THROW(yk_collection_exists(h(), name, mode, &flag));
        return flag != 0;
    }

  private:
    yk_database_handle_t h() const { return m_db.get(); }
    static std::vector<bool> unpack(const std::vector<uint8_t>& flags, size_t count) {
        std::vector<bool> out(count);
        for (size_t i = 0; i < count; i++) out[i] = yk_unpack_exists_flag(flags.data(), i);
        return out;
    }
    /* Hands each key-value pair to a std::function. An exception must not
     * unwind through libmochi's C frames (that aborts the process): it is
     * kept here, the call is stopped with an error, and it is rethrown once
     * the C function has returned. */
    struct Relay {
        explicit Relay(const fetch_callback_type& f) : fn(f) {}
        const fetch_callback_type& fn;
        std::exception_ptr error;

        static yk_return_t call(void* self, size_t i, const void* k, size_t ks, const void* v, size_t vs) {
            Relay* r = static_cast<Relay*>(self);
            try {
                return r->fn(i, k, ks, v, vs);
            } catch (...) {
                r->error = std::current_exception();
                return YOKAN_ERR_OTHER;
            }
        }
        void done(yk_return_t ret) const {
            if (error) std::rethrow_exception(error);
            YOKAN_CONVERT_AND_THROW(ret);
        }
    };

    std::shared_ptr<yk_database_handle> m_db;
    std::shared_ptr<yk_client> m_owner;
};

} // namespace yokan

#endif
