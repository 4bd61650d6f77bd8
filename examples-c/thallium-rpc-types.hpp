/*
 * thallium-rpc-types.hpp: what thallium-rpc-server and thallium-rpc-client
 * share: a user type serialized through its serialize member, the provider
 * id of the counter provider, and the RPC names.
 */
#ifndef THALLIUM_RPC_TYPES_HPP
#define THALLIUM_RPC_TYPES_HPP

#include <thallium.hpp>
#include <thallium/serialization/stl/map.hpp>
#include <thallium/serialization/stl/pair.hpp>
#include <thallium/serialization/stl/string.hpp>
#include <thallium/serialization/stl/tuple.hpp>
#include <thallium/serialization/stl/vector.hpp>

#include <cstdint>
#include <string>
#include <vector>

/* A point with a label, serialized member by member. */
struct labelled_point {
    std::int32_t     x = 0;
    double           y = 0.0;
    std::string      label;
    std::vector<int> tags;

    template <typename A> void serialize(A& ar) { ar & x & y & label & tags; }

    bool operator==(const labelled_point& o) const {
        return x == o.x && y == o.y && label == o.label && tags == o.tags;
    }
};

/* The counter provider lives at this id; no provider lives at MISSING. */
#define COUNTER_PROVIDER_ID 7
#define MISSING_PROVIDER_ID 99

#endif /* THALLIUM_RPC_TYPES_HPP */
