/*
 * yokan-collection-cxx: Yokan's document collections through the C++ API
 * (yokan::Collection, and the collection members of yokan::Database),
 * against a running provider. Every result is compared with what the
 * collection should hold (a std::map kept beside it).
 *
 *   yokan-collection-cxx PROTOCOL ADDRESS PROVIDER_ID
 *
 * (A provider with a Flock group dependency is a shard of a database spread
 * over the group: the same checks hold there.)
 * Prints each failed check; exits with their number (1 for an exception
 * nobody expected).
 */
#include <yokan/cxx/client.hpp>
#include <yokan/cxx/collection.hpp>
#include <yokan/cxx/database.hpp>
#include <margo.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

int failures = 0;

void check(bool cond, const std::string& what) {
    if (!cond) {
        std::cerr << "FAIL: " << what << std::endl;
        ++failures;
    }
}

/* Runs `f`, which must throw yokan::Exception with `code`. */
template <typename F>
void expect_error(yk_return_t code, const std::string& what, F&& f) {
    try {
        f();
    } catch (const yokan::Exception& e) {
        check(e.code() == code, what + ": expected code " + std::to_string(code) + ", got " +
                                    std::to_string(e.code()) + " (" + e.what() + ")");
        return;
    }
    check(false, what + ": expected code " + std::to_string(code) + ", the call succeeded");
}

const yk_id_t NO_ID = static_cast<yk_id_t>(-1);
using Model = std::map<yk_id_t, std::string>;

/* Each id up to the last one: present ones hold their document, the others
 * are not found; and the collection's size is the number present. */
void compare(const yokan::Collection& coll, const Model& model, const std::string& when) {
    check(coll.size() == model.size(), when + ": size " + std::to_string(coll.size()) + ", expected " +
                                           std::to_string(model.size()));
    yk_id_t last = model.empty() ? NO_ID : model.rbegin()->first;
    for (yk_id_t id = 0; !model.empty() && id <= last; id++) {
        std::vector<char> buf(256);
        size_t size = buf.size();
        auto it = model.find(id);
        if (it == model.end()) {
            expect_error(YOKAN_ERR_KEY_NOT_FOUND, when + ": load of absent id " + std::to_string(id),
                         [&] { coll.load(id, buf.data(), &size); });
            continue;
        }
        coll.load(id, buf.data(), &size);
        check(std::string(buf.data(), size) == it->second, when + ": document " + std::to_string(id));
    }
}

void lifecycle(const yokan::Database& db, const char* name) {
    check(!db.collectionExists(name), "collection absent before create");
    db.createCollection(name);
    check(db.collectionExists(name), "collection exists after create");
    expect_error(YOKAN_ERR_KEY_EXISTS, "create twice", [&] { db.createCollection(name); });
    yokan::Collection coll(name, db);
    check(coll.size() == 0, "new collection is empty");
    check(coll.last_id() == NO_ID, "last_id of an empty collection is (yk_id_t)-1");
}

void store_and_load(const yokan::Collection& coll, Model& model) {
    check(coll.store("alpha", 5) == 0, "first id is 0");
    model[0] = "alpha";
    std::vector<std::string> multi = {"bravo", "", "charlie-charlie"};
    std::vector<const void*> ptrs;
    std::vector<size_t> sizes;
    for (auto& d : multi) ptrs.push_back(d.data()), sizes.push_back(d.size());
    std::vector<yk_id_t> ids(3);
    coll.storeMulti(3, ptrs.data(), sizes.data(), ids.data());
    check(ids == std::vector<yk_id_t>({1, 2, 3}), "storeMulti ids 1, 2, 3");
    for (size_t i = 0; i < 3; i++) model[ids[i]] = multi[i];
    std::vector<size_t> psizes = {5, 4, 7};
    coll.storePacked(3, "deltaechofoxtrot", psizes.data(), ids.data());
    check(ids == std::vector<yk_id_t>({4, 5, 6}), "storePacked ids 4, 5, 6");
    model[4] = "delta", model[5] = "echo", model[6] = "foxtrot";
    check(coll.last_id() == 6, "last_id after 7 stores");
    compare(coll, model, "after stores");

    char small[4];
    size_t size = sizeof small;
    expect_error(YOKAN_ERR_BUFFER_SIZE, "load into a buffer too small", [&] { coll.load(3, small, &size); });
    size = sizeof small;
    expect_error(YOKAN_ERR_KEY_NOT_FOUND, "load of an id never given", [&] { coll.load(99, small, &size); });

    // loadMulti: each document into its own buffer; a small buffer and an
    // absent id are reported in the sizes, not as errors.
    std::vector<yk_id_t> want = {0, 2, 3, 99};
    std::vector<std::vector<char>> bufs(4, std::vector<char>(64));
    std::vector<void*> bptrs;
    for (auto& b : bufs) bptrs.push_back(b.data());
    std::vector<size_t> caps = {64, 64, 3, 64};
    coll.loadMulti(4, want.data(), bptrs.data(), caps.data());
    check(caps[0] == 5 && std::string(bufs[0].data(), 5) == "alpha", "loadMulti document 0");
    check(caps[1] == 0, "loadMulti empty document 2");
    check(caps[2] == YOKAN_SIZE_TOO_SMALL, "loadMulti: small buffer gives YOKAN_SIZE_TOO_SMALL");
    check(caps[3] == YOKAN_KEY_NOT_FOUND, "loadMulti: absent id gives YOKAN_KEY_NOT_FOUND");

    // loadPacked: room for delta and echo only, so foxtrot does not fit.
    std::vector<yk_id_t> pw = {99, 4, 5, 6};
    std::vector<char> packed(9);
    std::vector<size_t> out(4);
    coll.loadPacked(4, pw.data(), packed.size(), packed.data(), out.data());
    check(out[0] == YOKAN_KEY_NOT_FOUND && out[1] == 5 && out[2] == 4 && out[3] == YOKAN_SIZE_TOO_SMALL,
          "loadPacked sizes: not found, 5, 4, too small");
    check(std::string(packed.data(), 9) == "deltaecho", "loadPacked bytes");

    check(coll.length(3) == 15 && coll.length(2) == 0, "length of documents 3 and 2");
    expect_error(YOKAN_ERR_KEY_NOT_FOUND, "length of an absent id", [&] { coll.length(99); });
    std::vector<yk_id_t> lw = {0, 2, 99};
    std::vector<size_t> lens(3);
    coll.lengthMulti(3, lw.data(), lens.data());
    check(lens[0] == 5 && lens[1] == 0 && lens[2] == YOKAN_KEY_NOT_FOUND, "lengthMulti: 5, 0, not found");
}

void update_and_erase(const yokan::Collection& coll, Model& model) {
    coll.update(0, "ALPHA-2", 7);
    model[0] = "ALPHA-2";
    expect_error(YOKAN_ERR_INVALID_ID, "update past the last id", [&] { coll.update(50, "x", 1); });
    // UPDATE_NEW stores a document at an id never given out: it counts in
    // the size, becomes the last id, and the next store follows it.
    coll.update(10, "juliett", 7, YOKAN_MODE_UPDATE_NEW);
    model[10] = "juliett";
    check(coll.last_id() == 10, "last_id after an UPDATE_NEW at id 10");
    std::vector<yk_id_t> ids = {1, 2};
    std::vector<std::string> docs = {"B", "now-not-empty"};
    std::vector<const void*> ptrs = {docs[0].data(), docs[1].data()};
    std::vector<size_t> sizes = {docs[0].size(), docs[1].size()};
    coll.updateMulti(2, ids.data(), ptrs.data(), sizes.data());
    model[1] = docs[0], model[2] = docs[1];
    ids = {3, 4};
    sizes = {3, 5};
    coll.updatePacked(2, ids.data(), "CCCDDDDD", sizes.data());
    model[3] = "CCC", model[4] = "DDDDD";
    check(coll.store("kilo", 4) == 11, "the store after UPDATE_NEW at 10 gets id 11");
    model[11] = "kilo";
    compare(coll, model, "after updates");

    coll.erase(5);
    model.erase(5);
    coll.erase(500);  // an id never given: nothing to do, not an error
    ids = {6, 1, 7};  // 7 was never stored
    coll.eraseMulti(3, ids.data());
    model.erase(6), model.erase(1);
    compare(coll, model, "after erases");
}

/* Pages of `page` documents from id 0, each starting after the last id of
 * the one before, with list (one buffer each) or listPacked. */
Model list_all(const yokan::Collection& coll, size_t page, bool packed) {
    Model seen;
    yk_id_t start = 0;
    for (int round = 0; round < 100; round++) {
        std::vector<yk_id_t> ids(page);
        std::vector<size_t> sizes(page, 64);
        std::vector<std::vector<char>> bufs(page, std::vector<char>(64));
        std::vector<void*> ptrs;
        for (auto& b : bufs) ptrs.push_back(b.data());
        std::vector<char> flat(64 * page);
        if (packed)
            coll.listPacked(start, nullptr, 0, page, ids.data(), flat.size(), flat.data(), sizes.data());
        else
            coll.list(start, nullptr, 0, page, ids.data(), ptrs.data(), sizes.data());
        size_t offset = 0;
        for (size_t i = 0; i < page; i++) {
            if (ids[i] == YOKAN_NO_MORE_DOCS) {
                check(sizes[i] == YOKAN_NO_MORE_DOCS, "a slot past the end has size YOKAN_NO_MORE_DOCS");
                return seen;
            }
            const char* doc = packed ? flat.data() + offset : bufs[i].data();
            seen[ids[i]] = std::string(doc, sizes[i]);
            offset += sizes[i];
            start = ids[i] + 1;
        }
    }
    check(false, "listing never reached the end");
    return seen;
}

void listings(const yokan::Collection& coll, const Model& model) {
    check(list_all(coll, 2, false) == model, "list in pages of 2 gives every document in id order");
    check(list_all(coll, 4, true) == model, "listPacked in pages of 4 gives every document in id order");
    check(list_all(coll, 100, false) == model, "list in one page");
    // The start id is included; a buffer too small is a size, not an error.
    yk_id_t id = 0;
    size_t size = 1;
    char one[1];
    void* ptr = one;
    coll.list(3, nullptr, 0, 1, &id, &ptr, &size);
    check(id == 3 && size == YOKAN_SIZE_TOO_SMALL, "list from 3 with a 1-byte buffer: id 3, size too small");
    std::vector<yk_id_t> ids(3);
    std::vector<size_t> sizes(3);
    std::vector<char> room(model.at(0).size());
    coll.listPacked(0, nullptr, 0, 3, ids.data(), room.size(), room.data(), sizes.data());
    check(ids[0] == 0 && sizes[0] == room.size() && sizes[1] == YOKAN_SIZE_TOO_SMALL,
          "listPacked with room for one document: the next is too small");
}

yk_return_t count_calls(void* uargs, size_t, yk_id_t, const void*, size_t) {
    ++*static_cast<int*>(uargs);
    return YOKAN_SUCCESS;
}

void fetch_and_iter(const yokan::Collection& coll, const Model& model) {
    std::string got;
    coll.fetch(0, [&](size_t i, yk_id_t id, const void* doc, size_t size) {
        check(i == 0 && id == 0, "fetch: index 0, id 0");
        got.assign(static_cast<const char*>(doc), size);
        return YOKAN_SUCCESS;
    });
    check(got == model.at(0), "fetch gives document 0");
    size_t absent = 0;
    coll.fetch(7, [&](size_t, yk_id_t, const void*, size_t size) {
        absent = size;
        return YOKAN_SUCCESS;
    });
    check(absent == YOKAN_KEY_NOT_FOUND, "fetch of an absent id: size YOKAN_KEY_NOT_FOUND");
    int calls = 0;
    coll.fetch(0, count_calls, &calls);
    check(calls == 1, "fetch with a C callback");

    std::vector<yk_id_t> ids = {11, 5, 0, 3};
    std::vector<std::pair<yk_id_t, size_t>> seen;
    yk_doc_fetch_options_t opts{ABT_POOL_NULL, 2};
    coll.fetchMulti(4, ids.data(), [&](size_t i, yk_id_t id, const void*, size_t size) {
        check(i == seen.size(), "fetchMulti: indexes in order");
        seen.emplace_back(id, size);
        return YOKAN_SUCCESS;
    }, &opts);
    check(seen.size() == 4 && seen[0] == std::make_pair(yk_id_t(11), model.at(11).size()) &&
              seen[1].second == YOKAN_KEY_NOT_FOUND && seen[2].first == 0 &&
              seen[3] == std::make_pair(yk_id_t(3), model.at(3).size()),
          "fetchMulti in batches of 2: ids and sizes, the erased one not found");
    calls = 0;
    coll.fetchMulti(4, ids.data(), count_calls, &calls);
    check(calls == 4, "fetchMulti with a C callback");

    Model all;
    yk_doc_iter_options_t iopts{1, ABT_POOL_NULL};
    const yk_doc_iter_options_t* choices[] = {nullptr, &iopts};
    for (const yk_doc_iter_options_t* o : choices) {
        all.clear();
        coll.iter(0, nullptr, 0, 100, [&](size_t, yk_id_t id, const void* doc, size_t size) {
            all[id] = std::string(static_cast<const char*>(doc), size);
            return YOKAN_SUCCESS;
        }, o);
        check(all == model, o ? "iter in batches of 1 gives every document" : "iter gives every document");
    }
    std::vector<yk_id_t> from3;
    coll.iter(3, nullptr, 0, 2, [&](size_t, yk_id_t id, const void*, size_t) {
        from3.push_back(id);
        return YOKAN_SUCCESS;
    });
    check(from3 == std::vector<yk_id_t>({3, 4}), "iter from 3, at most 2: ids 3 and 4");
    calls = 0;
    coll.iter(0, nullptr, 0, 100, [&](size_t, yk_id_t, const void*, size_t) {
        return ++calls == 2 ? YOKAN_STOP_ITERATION : YOKAN_SUCCESS;
    });
    check(calls == 2, "iter stops at YOKAN_STOP_ITERATION without an error");
    calls = 0;
    coll.iter(0, nullptr, 0, 100, count_calls, &calls);
    check(calls == static_cast<int>(model.size()), "iter with a C callback");
    // An exception thrown by a callback reaches the caller as it was.
    calls = 0;
    try {
        coll.iter(0, nullptr, 0, 100, [&](size_t, yk_id_t, const void*, size_t) -> yk_return_t {
            ++calls;
            throw std::runtime_error("from the callback");
        });
        check(false, "a callback's exception is rethrown");
    } catch (const std::runtime_error& e) {
        check(std::string(e.what()) == "from the callback" && calls == 1,
              "a callback's exception is rethrown, after one call");
    }
    expect_error(YOKAN_ERR_INVALID_FILTER, "a callback's yokan::Exception keeps its code", [&] {
        coll.fetch(0, [](size_t, yk_id_t, const void*, size_t) -> yk_return_t {
            throw yokan::Exception(YOKAN_ERR_INVALID_FILTER);
        });
    });
}

/* The _bulk forms over memory exposed with margo_bulk_create, laid out as
 * upstream's: the sizes, then the documents; for listBulk the sizes, the
 * ids, then the documents (no filter here). */
void bulk(margo_instance_id mid, const yokan::Collection& coll, Model& model) {
    auto expose = [&](std::vector<char>& mem) {
        void* p = mem.data();
        hg_size_t len = mem.size();
        hg_bulk_t b = HG_BULK_NULL;
        if (margo_bulk_create(mid, 1, &p, &len, HG_BULK_READWRITE, &b) != HG_SUCCESS)
            throw std::runtime_error("margo_bulk_create failed");
        return b;
    };
    auto put_sizes = [](std::vector<char>& mem, std::vector<size_t> sizes, const std::string& docs) {
        mem.assign(sizes.size() * sizeof(size_t), 0);
        std::memcpy(mem.data(), sizes.data(), mem.size());
        mem.insert(mem.end(), docs.begin(), docs.end());
    };
    yk_id_t first = coll.last_id() + 1;
    std::vector<char> mem;
    put_sizes(mem, {4, 4}, "limamike");
    hg_bulk_t b = expose(mem);
    std::vector<yk_id_t> ids(2);
    coll.storeBulk(2, b, 0, mem.size(), ids.data());
    margo_bulk_free(b);
    check(ids[0] == first && ids[1] == first + 1, "storeBulk ids follow the last one");
    model[first] = "lima", model[first + 1] = "mike";

    put_sizes(mem, {0, 0}, std::string(8, '.'));
    b = expose(mem);
    coll.loadBulk(2, ids.data(), b, 0, mem.size(), true);
    margo_bulk_free(b);
    size_t sizes[2];
    std::memcpy(sizes, mem.data(), sizeof sizes);
    check(sizes[0] == 4 && sizes[1] == 4 && std::string(mem.data() + sizeof sizes, 8) == "limamike",
          "loadBulk (packed) sizes and bytes");

    put_sizes(mem, {4}, "LIMA");
    b = expose(mem);
    coll.updateBulk(1, ids.data(), b, 0, mem.size());
    margo_bulk_free(b);
    model[first] = "LIMA";

    // Not packed: the sizes in are each document's room, one after another.
    put_sizes(mem, {4, 6}, std::string(10, '.'));
    b = expose(mem);
    coll.loadBulk(2, ids.data(), b, 0, mem.size(), false);
    margo_bulk_free(b);
    std::memcpy(sizes, mem.data(), sizeof sizes);
    const char* docs = mem.data() + sizeof sizes;
    check(sizes[0] == 4 && sizes[1] == 4 && std::string(docs, 4) == "LIMA" && std::string(docs + 4, 4) == "mike",
          "loadBulk (not packed) after updateBulk");

    // listBulk from the first bulk-stored id, packed, three slots for the
    // two documents there: the sizes, then the ids, then the documents;
    // the slot past the last one says YOKAN_NO_MORE_DOCS in both.
    mem.assign(3 * sizeof(size_t) + 3 * sizeof(yk_id_t) + 16, 0);
    b = expose(mem);
    coll.listBulk(first, 0, b, 0, 16, true, 3);
    margo_bulk_free(b);
    size_t lsizes[3];
    yk_id_t lids[3];
    std::memcpy(lsizes, mem.data(), sizeof lsizes);
    std::memcpy(lids, mem.data() + sizeof lsizes, sizeof lids);
    const char* ldocs = mem.data() + sizeof lsizes + sizeof lids;
    check(lsizes[0] == 4 && lsizes[1] == 4 && lsizes[2] == YOKAN_NO_MORE_DOCS && lids[0] == first
              && lids[1] == first + 1 && lids[2] == YOKAN_NO_MORE_DOCS && std::string(ldocs, 8) == "LIMAmike",
          "listBulk (packed): sizes, ids and documents");
    // Not packed: the sizes in are each slot's room, one after another.
    mem.assign(2 * sizeof(size_t) + 2 * sizeof(yk_id_t) + 12, 0);
    size_t rooms[2] = {6, 6};
    std::memcpy(mem.data(), rooms, sizeof rooms);
    b = expose(mem);
    coll.listBulk(first, 0, b, 0, 12, false, 2);
    margo_bulk_free(b);
    std::memcpy(lsizes, mem.data(), sizeof rooms);
    std::memcpy(lids, mem.data() + sizeof rooms, 2 * sizeof(yk_id_t));
    ldocs = mem.data() + sizeof rooms + 2 * sizeof(yk_id_t);
    check(lsizes[0] == 4 && lsizes[1] == 4 && lids[0] == first && lids[1] == first + 1 &&
              std::string(ldocs, 4) == "LIMA" && std::string(ldocs + 6, 4) == "mike",
          "listBulk (not packed): sizes, ids and documents in their slots");
    compare(coll, model, "after the bulk forms");
}

void missing_collection(const yokan::Database& db) {
    yokan::Collection none("cxx-no-such-collection", db);
    const yk_return_t nf = YOKAN_ERR_KEY_NOT_FOUND;
    char buf[8];
    size_t size = sizeof buf;
    yk_id_t id = 0;
    void* ptr = buf;
    expect_error(nf, "size of a missing collection", [&] { none.size(); });
    expect_error(nf, "last_id of a missing collection", [&] { none.last_id(); });
    expect_error(nf, "store into a missing collection", [&] { none.store("x", 1); });
    expect_error(nf, "load from a missing collection", [&] { none.load(0, buf, &size); });
    expect_error(nf, "loadMulti from a missing collection", [&] { none.loadMulti(1, &id, &ptr, &size); });
    expect_error(nf, "length in a missing collection", [&] { none.length(0); });
    expect_error(nf, "update in a missing collection", [&] { none.update(0, "x", 1); });
    expect_error(nf, "erase in a missing collection", [&] { none.erase(0); });
    expect_error(nf, "list of a missing collection", [&] { none.list(0, nullptr, 0, 1, &id, &ptr, &size); });
    expect_error(nf, "iter over a missing collection", [&] {
        none.iter(0, nullptr, 0, 1, [](size_t, yk_id_t, const void*, size_t) { return YOKAN_SUCCESS; });
    });
}

void drop_and_recreate(const yokan::Database& db, const char* name, size_t keys_before) {
    db.dropCollection(name);
    check(!db.collectionExists(name), "collection absent after drop");
    check(db.count() == keys_before, "drop removes every key of the collection");
    yokan::Collection coll(name, db);
    char buf[8];
    size_t size = sizeof buf;
    expect_error(YOKAN_ERR_KEY_NOT_FOUND, "size of a dropped collection", [&] { coll.size(); });
    expect_error(YOKAN_ERR_KEY_NOT_FOUND, "load from a dropped collection", [&] { coll.load(0, buf, &size); });
    db.createCollection(name);
    check(coll.size() == 0 && coll.store("again", 5) == 0, "a collection made again starts empty, at id 0");
    // A Collection made from a raw handle (copied) sees the same documents.
    yokan::Collection raw(name, db.handle(), true);
    check(raw.size() == 1 && raw.length(0) == 5, "a Collection over a raw handle");
    db.dropCollection(name);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::cerr << "usage: " << argv[0] << " PROTOCOL ADDRESS PROVIDER_ID\n";
        return 2;
    }
    margo_instance_id mid = margo_init(argv[1], MARGO_CLIENT_MODE, 0, 0);
    hg_addr_t addr = HG_ADDR_NULL;
    if (mid == MARGO_INSTANCE_NULL || margo_addr_lookup(mid, argv[2], &addr) != HG_SUCCESS) return 1;
    uint16_t provider_id = static_cast<uint16_t>(std::atoi(argv[3]));
    const char* name = "cxx-docs";
    int rc = 0;
    try {
        yokan::Client client(mid);
        yokan::Database db = client.makeDatabaseHandle(addr, provider_id);
        size_t keys_before = db.count();
        lifecycle(db, name);
        yokan::Collection coll(name, db);
        Model model;
        store_and_load(coll, model);
        update_and_erase(coll, model);
        listings(coll, model);
        fetch_and_iter(coll, model);
        bulk(mid, coll, model);
        missing_collection(db);
        drop_and_recreate(db, name, keys_before);
        rc = failures;
    } catch (const yokan::Exception& e) {
        std::cerr << "unexpected yokan::Exception " << e.code() << " (" << e.what() << ")\n";
        rc = 1;
    } catch (const std::exception& e) {
        std::cerr << "unexpected exception: " << e.what() << "\n";
        rc = 1;
    }
    margo_addr_free(mid, addr);
    margo_finalize(mid);
    if (rc == 0)
        std::cout << "C++ collections: every check passed (provider " << provider_id << ")\n";
    else if (failures)
        std::cerr << failures << " check(s) failed (provider " << provider_id << ")\n";
    return rc;
}
