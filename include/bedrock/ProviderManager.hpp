/*
 * bedrock/ProviderManager.hpp -- bedrock::ProviderManager, defined in bedrock/Server.hpp
 * (with the Server it belongs to); see there for the API.
 */
#ifndef BEDROCK_CXX_PROVIDERMANAGER_HPP
#define BEDROCK_CXX_PROVIDERMANAGER_HPP

#include <bedrock/Server.hpp>

#endif /* BEDROCK_CXX_PROVIDERMANAGER_HPP */
