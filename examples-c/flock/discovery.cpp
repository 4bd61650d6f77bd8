/*
 * discovery.cpp -- service discovery with Flock's C++ API.
 *
 *   client ADDRESS PROVIDER_ID
 *
 * Contacts the Flock provider PROVIDER_ID at ADDRESS (any member of a group)
 * and lists the members of its group: one line with the group size, then
 * one line per member, in the view's order:
 *
 *   Group size: 4 members
 *   [0] na+sm://1234-0 provider_id=1
 *   ...
 *
 * The client engine uses the protocol of ADDRESS (the part before "://",
 * e.g. na+sm or ofi+tcp). Exits 0 on success, 1 on error, 2 on bad usage.
 *
 * This is the shape of the service-discovery client in the Flock
 * documentation: an engine, a flock::Client, makeGroupHandle(address,
 * provider_id) with the default mode, and group.view().
 */
#include <thallium.hpp>
#include <flock/cxx/client.hpp>
#include <flock/cxx/group.hpp>

#include <cstdint>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

namespace tl = thallium;

static bool parse_provider_id(const char* text, uint16_t& provider_id) {
    char*               end   = nullptr;
    const unsigned long value = std::strtoul(text, &end, 10);
    if(end == text || *end != '\0' || value > 65535) return false;
    provider_id = static_cast<uint16_t>(value);
    return true;
}

int main(int argc, char** argv) {
    uint16_t provider_id = 0;
    if(argc != 3 || !parse_provider_id(argv[2], provider_id)) {
        std::cerr << "usage: " << argv[0] << " ADDRESS PROVIDER_ID" << std::endl;
        return 2;
    }
    const std::string address = argv[1];
    const size_t      sep     = address.find("://");
    if(sep == std::string::npos || sep == 0) {
        std::cerr << argv[0] << ": not an address: " << address << std::endl;
        return 2;
    }
    const std::string protocol = address.substr(0, sep);

    try {
        tl::engine    engine(protocol, THALLIUM_CLIENT_MODE);
        flock::Client client(engine);

        auto group = client.makeGroupHandle(address, provider_id);
        auto view  = group.view();

        std::cout << "Group size: " << view.members().count() << " members" << std::endl;
        for(size_t i = 0; i < view.members().count(); i++) {
            const auto member = view.members()[i];
            std::cout << "[" << i << "] " << member.address
                      << " provider_id=" << member.provider_id << std::endl;
        }
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
