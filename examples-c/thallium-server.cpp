/*
 * thallium-server: the C++ (thallium.hpp) counterpart of margo-server.
 *
 *   thallium-server PROTOCOL ADDRESS_FILE
 *
 * Creates a server-mode engine, enables remote shutdown, prints its address
 * (std::string(engine.self())) on stdout and writes it to ADDRESS_FILE (via a
 * temporary file and a rename), then blocks in wait_for_finalize until a
 * client shuts it down, and exits 0.
 */
#include <thallium.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

namespace tl = thallium;

int main(int argc, char** argv) {
    if(argc != 3) {
        std::cerr << "usage: " << argv[0] << " PROTOCOL ADDRESS_FILE" << std::endl;
        return 2;
    }
    try {
        tl::engine engine(argv[1], THALLIUM_SERVER_MODE);
        engine.enable_remote_shutdown();
        if(!engine.is_listening()) {
            std::cerr << "thallium-server: engine is not listening" << std::endl;
            return 1;
        }
        if(engine.get_handler_pool().is_null()) {
            std::cerr << "thallium-server: no handler pool" << std::endl;
            return 1;
        }
        const std::string config = engine.get_config();
        if(config.empty() || config[0] != '{') {
            std::cerr << "thallium-server: unexpected config: " << config << std::endl;
            return 1;
        }

        const std::string address = engine.self();
        std::cout << address << std::endl;

        const std::string path = argv[2];
        const std::string tmp  = path + ".tmp";
        {
            std::ofstream out(tmp);
            out << address << "\n";
            if(!out.good()) {
                std::cerr << "thallium-server: could not write " << tmp << std::endl;
                return 1;
            }
        }
        if(std::rename(tmp.c_str(), path.c_str()) != 0) {
            std::perror(path.c_str());
            return 1;
        }

        engine.wait_for_finalize();
        std::cerr << "thallium-server: finalized" << std::endl;
    } catch(const tl::exception& ex) {
        std::cerr << "thallium-server: " << ex.what() << std::endl;
        return 1;
    }
    return 0;
}
