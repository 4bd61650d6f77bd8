/*
 * group-server.cpp -- a process hosting Flock providers of a static group,
 * written with Flock's C++ API (flock::GroupView, flock::Provider).
 *
 *   group-server [-v VIEW_FILE] [-f GROUP_FILE] [-a ADDRESS_FILE]
 *                LISTEN PROVIDER_IDS
 *
 *   LISTEN        protocol ("na+sm", "ofi+tcp") or full listening address
 *                 ("ofi+tcp://127.0.0.1:7001") of the server-mode engine
 *   PROVIDER_IDS  provider id of the member(s) hosted here: N, or FIRST-LAST
 *                 to host several members of the group in this one process
 *                 (e.g. 1-4 for a group of four)
 *   -v VIEW_FILE  bootstrap the group from this group file (JSON, the format
 *                 providers write with "file"); it must list every member
 *                 hosted here, with this process's address. Without -v the
 *                 group is made of this process's members only ("self").
 *   -f GROUP_FILE given to the providers as their "file": the group's first
 *                 member writes the group view there (clients can then use
 *                 flock::GroupHandle::FromFile)
 *   -a ADDRESS_FILE  also write the engine's address to this file (written
 *                 to ADDRESS_FILE.tmp, then renamed)
 *
 * Prints the engine's address as the first line on stdout, then serves
 * until the engine is finalized: remote shutdown is enabled, so a client can
 * stop it with margo_shutdown_remote_instance / shutdown_remote_engine.
 * Exits 0 after a shutdown, 1 on error, 2 on bad usage.
 */
#include <thallium.hpp>
#include <flock/cxx/group-view.hpp>
#include <flock/cxx/server.hpp>
#include <flock/flock-group-view.h>

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace tl = thallium;

static void usage(const char* prog) {
    std::cerr << "usage: " << prog
              << " [-v VIEW_FILE] [-f GROUP_FILE] [-a ADDRESS_FILE] LISTEN PROVIDER_IDS\n"
                 "  LISTEN: protocol (na+sm, ofi+tcp) or address to listen on\n"
                 "  PROVIDER_IDS: N or FIRST-LAST" << std::endl;
}

static bool parse_u16(const std::string& text, uint16_t& out) {
    if(text.empty()) return false;
    char*               end   = nullptr;
    const unsigned long value = std::strtoul(text.c_str(), &end, 10);
    if(*end != '\0' || value > 65535) return false;
    out = static_cast<uint16_t>(value);
    return true;
}

/* "N" or "FIRST-LAST" (FIRST <= LAST). */
static bool parse_ids(const std::string& text, std::vector<uint16_t>& ids) {
    const size_t dash  = text.find('-');
    uint16_t     first = 0, last = 0;
    if(dash == std::string::npos) {
        if(!parse_u16(text, first)) return false;
        last = first;
    } else if(!parse_u16(text.substr(0, dash), first)
              || !parse_u16(text.substr(dash + 1), last) || first > last) {
        return false;
    }
    for(unsigned id = first; id <= last; id++) ids.push_back(static_cast<uint16_t>(id));
    return true;
}

/* JSON string literal for text (quotes, backslashes and control characters
 * escaped). */
static std::string json_string(const std::string& text) {
    std::string out = "\"";
    for(const char c : text) {
        const unsigned char u = static_cast<unsigned char>(c);
        if(c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if(u < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof(buf), "\\u%04x", u);
            out += buf;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

static bool write_address_file(const std::string& path, const std::string& address) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp);
        out << address << "\n";
        if(!out.good()) return false;
    }
    return std::rename(tmp.c_str(), path.c_str()) == 0;
}

int main(int argc, char** argv) {
    std::string view_file, group_file, address_file;
    int         opt;
    while((opt = getopt(argc, argv, "v:f:a:h")) != -1) {
        switch(opt) {
        case 'v': view_file = optarg; break;
        case 'f': group_file = optarg; break;
        case 'a': address_file = optarg; break;
        default: usage(argv[0]); return opt == 'h' ? 0 : 2;
        }
    }
    std::vector<uint16_t> ids;
    if(argc - optind != 2 || !parse_ids(argv[optind + 1], ids)) {
        usage(argv[0]);
        return 2;
    }
    const std::string listen = argv[optind];

    try {
        tl::engine engine(listen, THALLIUM_SERVER_MODE);
        engine.enable_remote_shutdown();
        const std::string self = engine.self();

        std::string config = "{\"group\":{\"type\":\"static\",\"config\":{}}";
        if(!group_file.empty()) config += ",\"file\":" + json_string(group_file);
        config += "}";

        /* Every provider gets its own copy of the initial view (a Provider
         * takes the content of the view it is given). */
        flock::GroupView initial;
        if(view_file.empty()) {
            for(uint16_t id : ids) initial.members().add(self.c_str(), id);
        } else {
            flock_group_view_t   raw = FLOCK_GROUP_VIEW_INITIALIZER;
            const flock_return_t ret = flock_group_view_from_file(view_file.c_str(), &raw);
            if(ret != FLOCK_SUCCESS) {
                std::cerr << argv[0] << ": cannot load " << view_file << ": "
                          << (ret == FLOCK_ERR_INVALID_ARGS ? "unreadable file"
                                                            : flock::Exception(ret).what())
                          << std::endl;
                return 1;
            }
            initial = flock::GroupView(raw); /* takes over raw's content */
            for(uint16_t id : ids) {
                if(!initial.members().exists(self.c_str(), id)) {
                    std::cerr << argv[0] << ": " << view_file << " does not list ("
                              << self << ", " << id << ")" << std::endl;
                    return 1;
                }
            }
        }
        const size_t group_size = initial.members().count();

        std::vector<std::unique_ptr<flock::Provider>> providers;
        for(uint16_t id : ids) {
            flock::GroupView view = initial.copy();
            providers.push_back(
                std::make_unique<flock::Provider>(engine, id, config.c_str(), view));
        }

        std::cout << self << std::endl;
        if(!address_file.empty() && !write_address_file(address_file, self)) {
            std::cerr << argv[0] << ": could not write " << address_file << std::endl;
            return 1;
        }
        std::cerr << argv[0] << ": " << providers.size()
                  << " provider(s) serving a static group of " << group_size
                  << " member(s); waiting for shutdown" << std::endl;

        engine.wait_for_finalize();
        /* margo finalization destroyed the providers; the objects are null. */
    } catch(const flock::Exception& ex) {
        std::cerr << argv[0] << ": flock error: " << ex.what()
                  << " (code " << static_cast<int>(ex.code()) << ")" << std::endl;
        return 1;
    } catch(const std::exception& ex) {
        std::cerr << argv[0] << ": " << ex.what() << std::endl;
        return 1;
    }
    return 0;
}
