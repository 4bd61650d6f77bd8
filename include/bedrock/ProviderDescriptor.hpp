/*
 * bedrock/ProviderDescriptor.hpp -- what identifies a provider of a
 * Bedrock server: its name, its module type and its provider id (upstream
 * Bedrock's struct), header-only.
 */
#ifndef BEDROCK_CXX_PROVIDER_DESCRIPTOR_HPP
#define BEDROCK_CXX_PROVIDER_DESCRIPTOR_HPP

#include <cstdint>
#include <string>

namespace bedrock {

struct ProviderDescriptor {
    std::string name;
    std::string type;
    uint16_t    provider_id = 0;

    /* Field order of upstream's serialization, for archives that want it. */
    template <typename A> void serialize(A& ar) { ar(name, type, provider_id); }
};

} // namespace bedrock

#endif /* BEDROCK_CXX_PROVIDER_DESCRIPTOR_HPP */
