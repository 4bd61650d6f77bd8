/*
 * yokan/cxx/collection.hpp -- yokan::Collection (header-only, over
 * yokan/collection.h; source-compatible with upstream mochi-yokan 0.10,
 * without the Timeout extras, like yokan::Database here).
 *
 * A Collection is only a name beside a Database: making one sends nothing,
 * so the collection must exist on the provider already
 * (Database::createCollection). Every call that fails throws
 * yokan::Exception carrying the C function's code.
 */
#ifndef YOKAN_CXX_COLLECTION_HPP
#define YOKAN_CXX_COLLECTION_HPP

#include <yokan/collection.h>
#include <yokan/cxx/database.hpp>
#include <yokan/cxx/exception.hpp>
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

    size_t size(int32_t mode = YOKAN_MODE_DEFAULT) const {
        size_t n = 0;
        YOKAN_CONVERT_AND_THROW(yk_collection_size(h(), c(), mode, &n));
        return n;
    }
    yk_id_t last_id(int32_t mode = YOKAN_MODE_DEFAULT) const {
        yk_id_t id = 0;
        YOKAN_CONVERT_AND_THROW(yk_collection_last_id(h(), c(), mode, &id));
        return id;
    }

    yk_id_t store(const void* doc, size_t docsize, int32_t mode = YOKAN_MODE_DEFAULT) const {
        yk_id_t id = 0;
        YOKAN_CONVERT_AND_THROW(yk_doc_store(h(), c(), mode, doc, docsize, &id));
        return id;
    }
    void storeMulti(size_t count, const void* const* documents, const size_t* docsizes, yk_id_t* ids,
                    int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_store_multi(h(), c(), mode, count, documents, docsizes, ids));
    }
    void storePacked(size_t count, const void* documents, const size_t* docsizes, yk_id_t* ids,
                     int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_store_packed(h(), c(), mode, count, documents, docsizes, ids));
    }
    /* The _bulk forms take their payload from [offset, offset + size) of
     * `data`, laid out as yokan/collection.h describes. */
    void storeBulk(size_t count, hg_bulk_t data, size_t offset, size_t size, yk_id_t* ids,
                   const char* origin = nullptr, int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_store_bulk(h(), c(), mode, count, origin, data, offset, size, ids));
    }

    /* *size: the buffer's capacity in, the document's size out. */
    void load(yk_id_t id, void* data, size_t* size, int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_load(h(), c(), mode, id, data, size));
    }
    void loadMulti(size_t count, const yk_id_t* ids, void* const* documents, size_t* docsizes,
                   int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_load_multi(h(), c(), mode, count, ids, documents, docsizes));
    }
    void loadPacked(size_t count, const yk_id_t* ids, size_t bufsize, void* documents, size_t* docsizes,
                    int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_load_packed(h(), c(), mode, count, ids, bufsize, documents, docsizes));
    }
    void loadBulk(size_t count, const yk_id_t* ids, hg_bulk_t data, size_t offset, size_t size, bool packed,
                  const char* origin = nullptr, int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_load_bulk(h(), c(), mode, count, ids, origin, data, offset, size, packed));
    }

    void fetch(yk_id_t id, yk_document_callback_t cb, void* uargs, int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_fetch(h(), c(), mode, id, cb, uargs));
    }
    void fetch(yk_id_t id, const fetch_callback_type& cb, int32_t mode = YOKAN_MODE_DEFAULT) const {
        Relay r{cb};
        r.done(yk_doc_fetch(h(), c(), mode, id, Relay::call, &r));
    }
    void fetchMulti(size_t count, const yk_id_t* ids, yk_document_callback_t cb, void* uargs,
                    const yk_doc_fetch_options_t* options = nullptr, int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_fetch_multi(h(), c(), mode, count, ids, cb, uargs, options));
    }
    void fetchMulti(size_t count, const yk_id_t* ids, const fetch_callback_type& cb,
                    const yk_doc_fetch_options_t* options = nullptr, int32_t mode = YOKAN_MODE_DEFAULT) const {
        Relay r{cb};
        r.done(yk_doc_fetch_multi(h(), c(), mode, count, ids, Relay::call, &r, options));
    }

    size_t length(yk_id_t id, int32_t mode = YOKAN_MODE_DEFAULT) const {
        size_t s = 0;
        YOKAN_CONVERT_AND_THROW(yk_doc_length(h(), c(), mode, id, &s));
        return s;
    }
    void lengthMulti(size_t count, const yk_id_t* ids, size_t* sizes, int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_length_multi(h(), c(), mode, count, ids, sizes));
    }

    void update(yk_id_t id, const void* document, size_t docsize, int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_update(h(), c(), mode, id, document, docsize));
    }
    void updateMulti(size_t count, const yk_id_t* ids, const void* const* documents, const size_t* docsizes,
                     int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_update_multi(h(), c(), mode, count, ids, documents, docsizes));
    }
    void updatePacked(size_t count, const yk_id_t* ids, const void* documents, const size_t* docsizes,
                      int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_update_packed(h(), c(), mode, count, ids, documents, docsizes));
    }
    void updateBulk(size_t count, const yk_id_t* ids, hg_bulk_t data, size_t offset, size_t size,
                    const char* origin = nullptr, int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_update_bulk(h(), c(), mode, count, ids, origin, data, offset, size));
    }

    void erase(yk_id_t id, int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_erase(h(), c(), mode, id));
    }
    void eraseMulti(size_t count, const yk_id_t* ids, int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_erase_multi(h(), c(), mode, count, ids));
    }

    /* Up to `max` documents from start_id on; slots past the last one get
     * YOKAN_NO_MORE_DOCS as id and size. */
    void list(yk_id_t start_id, const void* filter, size_t filter_size, size_t max, yk_id_t* ids, void* const* docs,
              size_t* doc_sizes, int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_list(h(), c(), mode, start_id, filter, filter_size, max, ids, docs, doc_sizes));
    }
    void listPacked(yk_id_t start_id, const void* filter, size_t filter_size, size_t max, yk_id_t* ids,
                    size_t bufsize, void* docs, size_t* doc_sizes, int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_list_packed(h(), c(), mode, start_id, filter, filter_size, max, ids, bufsize,
                                                   docs, doc_sizes));
    }
    void listBulk(yk_id_t from_id, size_t filter_size, hg_bulk_t data, size_t offset, size_t docs_buf_size,
                  bool packed, size_t count, const char* origin = nullptr, int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_list_bulk(h(), c(), mode, from_id, filter_size, origin, data, offset,
                                                 docs_buf_size, packed, count));
    }

    void iter(yk_id_t from_id, const void* filter, size_t filter_size, size_t max, yk_document_callback_t cb,
              void* uargs, const yk_doc_iter_options_t* options = nullptr, int32_t mode = YOKAN_MODE_DEFAULT) const {
        YOKAN_CONVERT_AND_THROW(yk_doc_iter(h(), c(), mode, from_id, filter, filter_size, max, cb, uargs, options));
    }
    void iter(yk_id_t from_id, const void* filter, size_t filter_size, size_t max, const iter_callback_type& cb,
              const yk_doc_iter_options_t* options = nullptr, int32_t mode = YOKAN_MODE_DEFAULT) const {
        Relay r{cb};
        r.done(yk_doc_iter(h(), c(), mode, from_id, filter, filter_size, max, Relay::call, &r, options));
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
