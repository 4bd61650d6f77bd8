/*
 * bedrock/MargoManager.hpp -- bedrock::MargoManager, defined in bedrock/Server.hpp
 * (with the Server it belongs to); see there for the API.
 */
#ifndef BEDROCK_CXX_MARGOMANAGER_HPP
#define BEDROCK_CXX_MARGOMANAGER_HPP

#include <bedrock/Server.hpp>

#endif /* BEDROCK_CXX_MARGOMANAGER_HPP */
