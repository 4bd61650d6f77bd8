/*
 * bedrock/DependencyMap.hpp -- dependency name -> the specs given for it
 * (upstream Bedrock's typedef), header-only.
 */
#ifndef BEDROCK_CXX_DEPENDENCY_MAP_HPP
#define BEDROCK_CXX_DEPENDENCY_MAP_HPP

#include <string>
#include <unordered_map>
#include <vector>

namespace bedrock {

typedef std::unordered_map<std::string, std::vector<std::string>> DependencyMap;

} // namespace bedrock

#endif /* BEDROCK_CXX_DEPENDENCY_MAP_HPP */
