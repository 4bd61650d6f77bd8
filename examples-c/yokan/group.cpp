/* The group-aware Yokan handle from C++: yokan::Client::makeGroupDatabaseHandle
 * from a flock::GroupHandle and from a group file.
 * Usage: yokan-group-cxx PROTOCOL GROUP_FILE PROVIDER_ID */
#include <flock/cxx/group.hpp>
#include <yokan/cxx/client.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char** argv)
{
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s PROTOCOL GROUP_FILE PROVIDER_ID\n", argv[0]);
        return 2;
    }
    margo_instance_id mid = margo_init(argv[1], MARGO_CLIENT_MODE, 0, 0);
    if (mid == MARGO_INSTANCE_NULL) { std::fprintf(stderr, "margo_init failed\n"); return 1; }
    const auto provider_id = static_cast<uint16_t>(std::atoi(argv[3]));
    int status = 0;
    {
        flock_client_t fc = FLOCK_CLIENT_NULL;
        if (flock_client_init(mid, ABT_POOL_NULL, &fc) != FLOCK_SUCCESS) return 1;
        yokan::Client client(mid);
        yokan::Database db;
        {
            auto group = flock::GroupHandle::FromFile(fc, argv[2]);
            db = client.makeGroupDatabaseHandle(group, provider_id);
            try {
                client.makeGroupDatabaseHandle(group, static_cast<uint16_t>(999));
                status = 1;
            } catch (const yokan::Exception& e) {
                if (e.code() != YOKAN_ERR_INVALID_PROVIDER) status = 1;
            }
        } // the database handle keeps working without the Flock handle
        flock_client_finalize(fc);
        yokan::Database again = client.makeGroupDatabaseHandle(argv[2], provider_id);
        for (int i = 0; i < 50; i++) {
            const std::string k = "cxx/key" + std::to_string(i), v = "cxx value " + std::to_string(i);
            db.put(k.data(), k.size(), v.data(), v.size());
        }
        for (int i = 0; i < 50; i++) {
            const std::string k = "cxx/key" + std::to_string(i), v = "cxx value " + std::to_string(i);
            char buf[64];
            size_t vsize = sizeof buf;
            again.get(k.data(), k.size(), buf, &vsize);
            if (std::string(buf, vsize) != v) status = 1;
        }
        again.eraseRange("cxx/", 4);
        std::printf("C++: 50 keys through the group-aware handles (from a flock::GroupHandle and from the file): %s\n",
                    status == 0 ? "ok" : "FAILED");
    }
    margo_finalize(mid);
    return status;
}
