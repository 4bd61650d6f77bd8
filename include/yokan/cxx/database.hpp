/*
 * yokan/cxx/database.hpp -- yokan::Database (header-only, over the C API of
 * libmochi; source-compatible with upstream mochi-yokan 0.10). Collections
 * are made, dropped and tested here; their documents are reached through
 * yokan::Collection (yokan/cxx/collection.hpp).
 *
 * Every method ends, as upstream's, with its mode and then any number of
 * extras (yokan/cxx/extras.hpp): yokan::Timeout{ms} bounds that one call.
 * The methods call the yk_*_timed functions of yokan/database.h directly
 * (timeout 0 when no Timeout is given), so no variadic C call is made.
 */
#ifndef YOKAN_CXX_DATABASE_HPP
#define YOKAN_CXX_DATABASE_HPP

#include <yokan/client.h>
#include <yokan/collection.h>
#include <yokan/database.h>
#include <yokan/cxx/exception.hpp>
#include <yokan/cxx/extras.hpp>
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

    template <typename... Extras>
    size_t count(int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        size_t c = 0;
        YOKAN_CONVERT_AND_THROW(yk_count_timed(h(), mode, &c, detail::extras_timeout_ms(extras...)));
        return c;
    }
    template <typename... Extras>
    void put(const void* key, size_t ksize, const void* value, size_t vsize, int32_t mode = YOKAN_MODE_DEFAULT,
             const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(yk_put_timed(h(), mode, key, ksize, value, vsize, detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void putMulti(size_t count, const void* const* keys, const size_t* ksizes, const void* const* values,
                  const size_t* vsizes, int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(
            yk_put_multi_timed(h(), mode, count, keys, ksizes, values, vsizes, detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void putPacked(size_t count, const void* keys, const size_t* ksizes, const void* values, const size_t* vsizes,
                   int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(
            yk_put_packed_timed(h(), mode, count, keys, ksizes, values, vsizes, detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    bool exists(const void* key, size_t ksize, int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        uint8_t e = 0;
        YOKAN_CONVERT_AND_THROW(yk_exists_timed(h(), mode, key, ksize, &e, detail::extras_timeout_ms(extras...)));
        return e != 0;
    }
    template <typename... Extras>
    std::vector<bool> existsMulti(size_t count, const void* const* keys, const size_t* ksizes,
                                  int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        std::vector<uint8_t> flags(1 + count / 8);
        YOKAN_CONVERT_AND_THROW(
            yk_exists_multi_timed(h(), mode, count, keys, ksizes, flags.data(), detail::extras_timeout_ms(extras...)));
        return unpack(flags, count);
    }
    template <typename... Extras>
    std::vector<bool> existsPacked(size_t count, const void* keys, const size_t* ksizes,
                                   int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        std::vector<uint8_t> flags(1 + count / 8);
        YOKAN_CONVERT_AND_THROW(
            yk_exists_packed_timed(h(), mode, count, keys, ksizes, flags.data(), detail::extras_timeout_ms(extras...)));
        return unpack(flags, count);
    }
    template <typename... Extras>
    size_t length(const void* key, size_t ksize, int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        size_t s = 0;
        YOKAN_CONVERT_AND_THROW(yk_length_timed(h(), mode, key, ksize, &s, detail::extras_timeout_ms(extras...)));
        return s;
    }
    template <typename... Extras>
    void lengthMulti(size_t count, const void* const* keys, const size_t* ksizes, size_t* vsizes,
                     int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(
            yk_length_multi_timed(h(), mode, count, keys, ksizes, vsizes, detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void lengthPacked(size_t count, const void* keys, const size_t* ksizes, size_t* vsizes,
                      int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(
            yk_length_packed_timed(h(), mode, count, keys, ksizes, vsizes, detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void get(const void* key, size_t ksize, void* value, size_t* vsize, int32_t mode = YOKAN_MODE_DEFAULT,
             const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(yk_get_timed(h(), mode, key, ksize, value, vsize, detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void getMulti(size_t count, const void* const* keys, const size_t* ksizes, void* const* values, size_t* vsizes,
                  int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(
            yk_get_multi_timed(h(), mode, count, keys, ksizes, values, vsizes, detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void getPacked(size_t count, const void* keys, const size_t* ksizes, size_t vbufsize, void* values, size_t* vsizes,
                   int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(yk_get_packed_timed(h(), mode, count, keys, ksizes, vbufsize, values, vsizes,
                                                    detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void fetch(const void* key, size_t ksize, yk_keyvalue_callback_t cb, void* uargs, int32_t mode = YOKAN_MODE_DEFAULT,
               const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(yk_fetch_timed(h(), mode, key, ksize, cb, uargs, detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void fetch(const void* key, size_t ksize, const fetch_callback_type& cb, int32_t mode = YOKAN_MODE_DEFAULT,
               const Extras&... extras) const {
        const double t = detail::extras_timeout_ms(extras...);
        Relay r{cb};
        r.done(yk_fetch_timed(h(), mode, key, ksize, Relay::call, &r, t));
    }
    template <typename... Extras>
    void fetchMulti(size_t count, const void* const* keys, const size_t* ksizes, const fetch_callback_type& cb,
                    const yk_fetch_options_t* options = nullptr, int32_t mode = YOKAN_MODE_DEFAULT,
                    const Extras&... extras) const {
        const double t = detail::extras_timeout_ms(extras...);
        Relay r{cb};
        r.done(yk_fetch_multi_timed(h(), mode, count, keys, ksizes, Relay::call, &r, options, t));
    }
    template <typename... Extras>
    void fetchPacked(size_t count, const void* keys, const size_t* ksizes, const fetch_callback_type& cb,
                     const yk_fetch_options_t* options = nullptr, int32_t mode = YOKAN_MODE_DEFAULT,
                     const Extras&... extras) const {
        const double t = detail::extras_timeout_ms(extras...);
        Relay r{cb};
        r.done(yk_fetch_packed_timed(h(), mode, count, keys, ksizes, Relay::call, &r, options, t));
    }
    template <typename... Extras>
    void erase(const void* key, size_t ksize, int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(yk_erase_timed(h(), mode, key, ksize, detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void eraseMulti(size_t count, const void* const* keys, const size_t* ksizes, int32_t mode = YOKAN_MODE_DEFAULT,
                    const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(yk_erase_multi_timed(h(), mode, count, keys, ksizes, detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void erasePacked(size_t count, const void* keys, const size_t* ksizes, int32_t mode = YOKAN_MODE_DEFAULT,
                     const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(
            yk_erase_packed_timed(h(), mode, count, keys, ksizes, detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void eraseRange(const void* prefix, size_t size, int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(yk_erase_range_timed(h(), mode, prefix, size, detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void listKeys(const void* from_key, size_t from_ksize, const void* filter, size_t filter_size, size_t count,
                  void* const* keys, size_t* ksizes, int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(yk_list_keys_timed(h(), mode, from_key, from_ksize, filter, filter_size, count, keys,
                                                   ksizes, detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void listKeysPacked(const void* from_key, size_t from_ksize, const void* filter, size_t filter_size, size_t count,
                        void* keys, size_t keys_buf_size, size_t* ksizes, int32_t mode = YOKAN_MODE_DEFAULT,
                        const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(yk_list_keys_packed_timed(h(), mode, from_key, from_ksize, filter, filter_size, count,
                                                          keys, keys_buf_size, ksizes,
                                                          detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void listKeyVals(const void* from_key, size_t from_ksize, const void* filter, size_t filter_size, size_t count,
                     void* const* keys, size_t* ksizes, void* const* values, size_t* vsizes,
                     int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(yk_list_keyvals_timed(h(), mode, from_key, from_ksize, filter, filter_size, count, keys,
                                                      ksizes, values, vsizes, detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void listKeyValsPacked(const void* from_key, size_t from_ksize, const void* filter, size_t filter_size, size_t count,
                           void* keys, size_t keys_buf_size, size_t* ksizes, void* values, size_t vals_buf_size,
                           size_t* vsizes, int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(yk_list_keyvals_packed_timed(h(), mode, from_key, from_ksize, filter, filter_size, count,
                                                             keys, keys_buf_size, ksizes, values, vals_buf_size, vsizes,
                                                             detail::extras_timeout_ms(extras...)));
    }
    /* The _bulk forms: the payload is [offset, offset + size) of `data` (see yokan/database.h). */
    template <typename... Extras>
    void putBulk(size_t count, const char* origin, hg_bulk_t data, size_t offset, size_t size,
                 int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(
            yk_put_bulk_timed(h(), mode, count, origin, data, offset, size, detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void existsBulk(size_t count, const char* origin, hg_bulk_t data, size_t offset, size_t size,
                    int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(
            yk_exists_bulk_timed(h(), mode, count, origin, data, offset, size, detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void lengthBulk(size_t count, const char* origin, hg_bulk_t data, size_t offset, size_t size,
                    int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(
            yk_length_bulk_timed(h(), mode, count, origin, data, offset, size, detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void getBulk(size_t count, const char* origin, hg_bulk_t data, size_t offset, size_t size, bool packed,
                 int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(yk_get_bulk_timed(h(), mode, count, origin, data, offset, size, packed,
                                                  detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void fetchBulk(size_t count, const char* origin, hg_bulk_t data, size_t offset, size_t size, yk_keyvalue_callback_t cb,
                   void* uargs, const yk_fetch_options_t* options = nullptr, int32_t mode = YOKAN_MODE_DEFAULT,
                   const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(yk_fetch_bulk_timed(h(), mode, count, origin, data, offset, size, cb, uargs, options,
                                                    detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void fetchBulk(size_t count, const char* origin, hg_bulk_t data, size_t offset, size_t size,
                   const fetch_callback_type& cb, const yk_fetch_options_t* options = nullptr,
                   int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        const double t = detail::extras_timeout_ms(extras...);
        Relay r{cb};
        r.done(yk_fetch_bulk_timed(h(), mode, count, origin, data, offset, size, Relay::call, &r, options, t));
    }
    template <typename... Extras>
    void eraseBulk(size_t count, const char* origin, hg_bulk_t data, size_t offset, size_t size,
                   int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(
            yk_erase_bulk_timed(h(), mode, count, origin, data, offset, size, detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void listKeysBulk(size_t from_ksize, size_t filter_size, const char* origin, hg_bulk_t data, size_t offset,
                      size_t keys_buf_size, bool packed, size_t count, int32_t mode = YOKAN_MODE_DEFAULT,
                      const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(yk_list_keys_bulk_timed(h(), mode, from_ksize, filter_size, origin, data, offset,
                                                        keys_buf_size, packed, count,
                                                        detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void listKeyValsBulk(size_t from_ksize, size_t filter_size, const char* origin, hg_bulk_t data, size_t offset,
                         size_t keys_buf_size, size_t vals_buf_size, bool packed, size_t count,
                         int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(yk_list_keyvals_bulk_timed(h(), mode, from_ksize, filter_size, origin, data, offset,
                                                           keys_buf_size, vals_buf_size, packed, count,
                                                           detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void iter(const void* from_key, size_t from_ksize, const void* filter, size_t filter_size, size_t count,
              const iter_callback_type& cb, const yk_iter_options_t* options = nullptr,
              int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        const double t = detail::extras_timeout_ms(extras...);
        Relay r{cb};
        r.done(yk_iter_timed(h(), mode, from_key, from_ksize, filter, filter_size, count, Relay::call, &r, options, t));
    }

    /* Creating a collection that exists throws YOKAN_ERR_KEY_EXISTS. */
    template <typename... Extras>
    void createCollection(const char* name, int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(yk_collection_create_timed(h(), name, mode, detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void dropCollection(const char* name, int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(yk_collection_drop_timed(h(), name, mode, detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    bool collectionExists(const char* name, int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        uint8_t flag = 0;
        YOKAN_CONVERT_AND_THROW(
            yk_collection_exists_timed(h(), name, mode, &flag, detail::extras_timeout_ms(extras...)));
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
