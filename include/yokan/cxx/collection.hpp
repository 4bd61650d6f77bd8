/*
 * yokan/cxx/collection.hpp -- yokan::Collection (header-only, over
 * yokan/collection.h; source-compatible with upstream mochi-yokan 0.10).
 *
 * A Collection is only a name beside a Database: making one sends nothing,
 * so the collection must exist on the provider already
 * (Database::createCollection). Every call that fails throws
 * yokan::Exception carrying the C function's code. As in yokan::Database,
 * every method ends with its mode and then any extras (yokan::Timeout{ms},
 * yokan/cxx/extras.hpp), and calls the yk_*_timed function directly.
 */
#ifndef YOKAN_CXX_COLLECTION_HPP
#define YOKAN_CXX_COLLECTION_HPP

#include <yokan/collection.h>
#include <yokan/cxx/database.hpp>
#include <yokan/cxx/exception.hpp>
#include <yokan/cxx/extras.hpp>
#include <exception>
#include <functional>
#include <string>
#include <utility>

namespace yokan {

class Collection {
  public:
    /* (index of the document in the call, its id, its bytes, their size) */
    using fetch_callback_type = std::function<yk_return_t(size_t, yk_id_t, const void*, size_t)>;
    using iter_callback_type = fetch_callback_type;

    /* Whatever follows the name is handed to a Database constructor: an
     * existing Database (shared), or a raw handle with its copy flag. */
    template <typename... DbArgs>
    Collection(const char* name, DbArgs&&... db_args) : m_db(std::forward<DbArgs>(db_args)...), m_name(name) {}

    yk_database_handle_t handle() const { return m_db.handle(); }

    template <typename... Extras>
    size_t size(int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        size_t n = 0;
        YOKAN_CONVERT_AND_THROW(yk_collection_size_timed(h(), c(), mode, &n, detail::extras_timeout_ms(extras...)));
        return n;
    }
    template <typename... Extras>
    yk_id_t last_id(int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        yk_id_t id = 0;
        YOKAN_CONVERT_AND_THROW(yk_collection_last_id_timed(h(), c(), mode, &id, detail::extras_timeout_ms(extras...)));
        return id;
    }

    template <typename... Extras>
    yk_id_t store(const void* doc, size_t docsize, int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        yk_id_t id = 0;
        YOKAN_CONVERT_AND_THROW(yk_doc_store_timed(h(), c(), mode, doc, docsize, &id, detail::extras_timeout_ms(extras...)));
        return id;
    }
    template <typename... Extras>
    void storeMulti(size_t count, const void* const* documents, const size_t* docsizes, yk_id_t* ids,
                    int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_store_multi_timed(h(), c(), mode, count, documents, docsizes, ids,
                                                         detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void storePacked(size_t count, const void* documents, const size_t* docsizes, yk_id_t* ids,
                     int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_store_packed_timed(h(), c(), mode, count, documents, docsizes, ids,
                                                          detail::extras_timeout_ms(extras...)));
    }
    /* The _bulk forms take their payload from [offset, offset + size) of
     * `data`, laid out as yokan/collection.h describes. */
    template <typename... Extras>
    void storeBulk(size_t count, hg_bulk_t data, size_t offset, size_t size, yk_id_t* ids,
                   const char* origin = nullptr, int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_store_bulk_timed(h(), c(), mode, count, origin, data, offset, size, ids,
                                                        detail::extras_timeout_ms(extras...)));
    }

    /* *size: the buffer's capacity in, the document's size out. */
    template <typename... Extras>
    void load(yk_id_t id, void* data, size_t* size, int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_load_timed(h(), c(), mode, id, data, size, detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void loadMulti(size_t count, const yk_id_t* ids, void* const* documents, size_t* docsizes,
                   int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_load_multi_timed(h(), c(), mode, count, ids, documents, docsizes,
                                                        detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void loadPacked(size_t count, const yk_id_t* ids, size_t bufsize, void* documents, size_t* docsizes,
                    int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_load_packed_timed(h(), c(), mode, count, ids, bufsize, documents, docsizes,
                                                         detail::extras_timeout_ms(extras...)));
    }
    /* Unlike the C yk_doc_load_bulk (whose bool last parameter keeps it
     * from reading its extras), this honours a Timeout. */
    template <typename... Extras>
    void loadBulk(size_t count, const yk_id_t* ids, hg_bulk_t data, size_t offset, size_t size, bool packed,
                  const char* origin = nullptr, int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_load_bulk_timed(h(), c(), mode, count, ids, origin, data, offset, size, packed,
                                                       detail::extras_timeout_ms(extras...)));
    }

    template <typename... Extras>
    void fetch(yk_id_t id, yk_document_callback_t cb, void* uargs, int32_t mode = YOKAN_MODE_DEFAULT,
               const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_fetch_timed(h(), c(), mode, id, cb, uargs, detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void fetch(yk_id_t id, const fetch_callback_type& cb, int32_t mode = YOKAN_MODE_DEFAULT,
               const Extras&... extras) const {
        const double t = detail::extras_timeout_ms(extras...);
        Relay r{cb};
        r.done(yk_doc_fetch_timed(h(), c(), mode, id, Relay::call, &r, t));
    }
    template <typename... Extras>
    void fetchMulti(size_t count, const yk_id_t* ids, yk_document_callback_t cb, void* uargs,
                    const yk_doc_fetch_options_t* options = nullptr, int32_t mode = YOKAN_MODE_DEFAULT,
                    const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_fetch_multi_timed(h(), c(), mode, count, ids, cb, uargs, options,
                                                         detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void fetchMulti(size_t count, const yk_id_t* ids, const fetch_callback_type& cb,
                    const yk_doc_fetch_options_t* options = nullptr, int32_t mode = YOKAN_MODE_DEFAULT,
                    const Extras&... extras) const {
        const double t = detail::extras_timeout_ms(extras...);
        Relay r{cb};
        r.done(yk_doc_fetch_multi_timed(h(), c(), mode, count, ids, Relay::call, &r, options, t));
    }

    template <typename... Extras>
    size_t length(yk_id_t id, int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        size_t s = 0;
        YOKAN_CONVERT_AND_THROW(yk_doc_length_timed(h(), c(), mode, id, &s, detail::extras_timeout_ms(extras...)));
        return s;
    }
    template <typename... Extras>
    void lengthMulti(size_t count, const yk_id_t* ids, size_t* sizes, int32_t mode = YOKAN_MODE_DEFAULT,
                     const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(
            yk_doc_length_multi_timed(h(), c(), mode, count, ids, sizes, detail::extras_timeout_ms(extras...)));
    }

    template <typename... Extras>
    void update(yk_id_t id, const void* document, size_t docsize, int32_t mode = YOKAN_MODE_DEFAULT,
                const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(
            yk_doc_update_timed(h(), c(), mode, id, document, docsize, detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void updateMulti(size_t count, const yk_id_t* ids, const void* const* documents, const size_t* docsizes,
                     int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_update_multi_timed(h(), c(), mode, count, ids, documents, docsizes,
                                                          detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void updatePacked(size_t count, const yk_id_t* ids, const void* documents, const size_t* docsizes,
                      int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_update_packed_timed(h(), c(), mode, count, ids, documents, docsizes,
                                                           detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void updateBulk(size_t count, const yk_id_t* ids, hg_bulk_t data, size_t offset, size_t size,
                    const char* origin = nullptr, int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_update_bulk_timed(h(), c(), mode, count, ids, origin, data, offset, size,
                                                         detail::extras_timeout_ms(extras...)));
    }

    template <typename... Extras>
    void erase(yk_id_t id, int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_erase_timed(h(), c(), mode, id, detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void eraseMulti(size_t count, const yk_id_t* ids, int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_erase_multi_timed(h(), c(), mode, count, ids, detail::extras_timeout_ms(extras...)));
    }

    /* Up to `max` documents from start_id on; slots past the last one get
     * YOKAN_NO_MORE_DOCS as id and size. */
    template <typename... Extras>
    void list(yk_id_t start_id, const void* filter, size_t filter_size, size_t max, yk_id_t* ids, void* const* docs,
              size_t* doc_sizes, int32_t mode = YOKAN_MODE_DEFAULT, const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_list_timed(h(), c(), mode, start_id, filter, filter_size, max, ids, docs,
                                                  doc_sizes, detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void listPacked(yk_id_t start_id, const void* filter, size_t filter_size, size_t max, yk_id_t* ids,
                    size_t bufsize, void* docs, size_t* doc_sizes, int32_t mode = YOKAN_MODE_DEFAULT,
                    const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_list_packed_timed(h(), c(), mode, start_id, filter, filter_size, max, ids,
                                                         bufsize, docs, doc_sizes, detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void listBulk(yk_id_t from_id, size_t filter_size, hg_bulk_t data, size_t offset, size_t docs_buf_size,
                  bool packed, size_t count, const char* origin = nullptr, int32_t mode = YOKAN_MODE_DEFAULT,
                  const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_list_bulk_timed(h(), c(), mode, from_id, filter_size, origin, data, offset,
                                                       docs_buf_size, packed, count, detail::extras_timeout_ms(extras...)));
    }

    template <typename... Extras>
    void iter(yk_id_t from_id, const void* filter, size_t filter_size, size_t max, yk_document_callback_t cb,
              void* uargs, const yk_doc_iter_options_t* options = nullptr, int32_t mode = YOKAN_MODE_DEFAULT,
              const Extras&... extras) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_iter_timed(h(), c(), mode, from_id, filter, filter_size, max, cb, uargs, options,
                                                  detail::extras_timeout_ms(extras...)));
    }
    template <typename... Extras>
    void iter(yk_id_t from_id, const void* filter, size_t filter_size, size_t max, const iter_callback_type& cb,
              const yk_doc_iter_options_t* options = nullptr, int32_t mode = YOKAN_MODE_DEFAULT,
              const Extras&... extras) const {
        const double t = detail::extras_timeout_ms(extras...);
        Relay r{cb};
        r.done(yk_doc_iter_timed(h(), c(), mode, from_id, filter, filter_size, max, Relay::call, &r, options, t));
    }

  private:
    /* Hands each document to a std::function. An exception must not unwind
     * through libmochi's C frames (it would abort the process), so it is
     * kept here, the call is stopped with an error, and it is rethrown
     * once the C function has returned. */
    struct Relay {
        explicit Relay(const fetch_callback_type& f) : fn(f) {}
        const fetch_callback_type& fn;
        std::exception_ptr error;

        static yk_return_t call(void* self, size_t i, yk_id_t id, const void* doc, size_t size) {
            Relay* r = static_cast<Relay*>(self);
            try {
                return r->fn(i, id, doc, size);
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

    yk_database_handle_t h() const { return m_db.handle(); }
    const char* c() const { return m_name.c_str(); }

    Database m_db;
    std::string m_name;
};

} // namespace yokan

#endif
