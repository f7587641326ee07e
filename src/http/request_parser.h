// How the server turns bytes into a request: Boost.Beast's HTTP/1.1 parser
// with the server's header and body limits, the HttpRequest a handler sees,
// and the answer to bytes the parser refuses. In one place so the fuzz
// target (tests/fuzz/http_request_fuzz.cc) parses exactly as a connection does.
#pragma once

#include <optional>
#include <string>

#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "nexum/http_server.h"

namespace nexum::http_internal {

using BeastRequest = boost::beast::http::request<boost::beast::http::string_body>;
using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

// Sets `options`' body and header limits on a fresh parser.
void configure_parser(RequestParser& parser, const HttpServerOptions& options);

// The request as handlers see it: the target split and percent-decoded,
// header names in lower case, `remote` the peer's address.
HttpRequest to_request(const BeastRequest& req, std::string remote);

// The answer to a request the parser refused: 413 over the body limit, 431
// over the header limit, 400 naming the parser's reason for other malformed
// input. nullopt for errors that are no protocol error (end of stream, a
// reset, a timeout): the connection is closed without an answer.
std::optional<HttpResponse> answer_to_parse_error(boost::beast::error_code ec, const HttpServerOptions& options);

}  // namespace nexum::http_internal
