#pragma once

#include <string>

#include "http/message.hpp"

namespace invited::api {

// An HTML page response with the page security headers (web::page_headers()).
http::Response page_response(int status, std::string html);

}  // namespace invited::api
