/*
 * print-config.cpp -- prints the configuration of a running Bedrock daemon
 * with the C++ client API, and checks that Jx9 queries are refused.
 *
 *   print-config ADDRESS [PROVIDER_ID]
 *
 * Prints the daemon's effective configuration (JSON, one line) on stdout.
 * Then sends a Jx9 query (ServiceHandle::queryConfig), which this
 * implementation does not support: the daemon's refusal must arrive as a
 * bedrock::Exception, whose message goes to stderr. The client engine uses
 * the protocol of ADDRESS (the part before "://").
 *
 * Exits 0 on success, 1 if the daemon could not be reached or the query
 * did not throw, 2 on bad usage.
 */
#include <bedrock/Client.hpp>
#include <bedrock/ServiceHandle.hpp>
#include <thallium.hpp>

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>

namespace tl = thallium;

int main(int argc, char** argv) {
    if(argc < 2 || argc > 3) {
        std::cerr << "usage: " << argv[0] << " ADDRESS [PROVIDER_ID]" << std::endl;
        return 2;
    }
    const std::string address = argv[1];
    const uint16_t provider_id =
        argc == 3 ? static_cast<uint16_t>(std::strtoul(argv[2], nullptr, 10)) : 0;
    const size_t sep = address.find("://");
    if(sep == std::string::npos || sep == 0) {
        std::cerr << argv[0] << ": not an address: " << address << std::endl;
        return 2;
    }

    try {
        tl::engine             engine(address.substr(0, sep), THALLIUM_CLIENT_MODE);
        bedrock::Client        client(engine);
        bedrock::ServiceHandle service = client.makeServiceHandle(address, provider_id);

        std::string config;
        service.getConfig(&config);
        std::cout << config << std::endl;

        try {
            std::string result;
            service.queryConfig("return $__config__.margo;", &result);
            std::cerr << "error: queryConfig did not throw (result: " << result << ")"
                      << std::endl;
            return 1;
        } catch(const bedrock::Exception& ex) {
            std::cerr << "queryConfig refused: " << ex.what() << std::endl;
        }
    } catch(const std::exception& ex) {
        std::cerr << "error: " << ex.what() << std::endl;
        return 1;
    }
    return 0;
}
