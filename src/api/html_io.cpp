#include "api/html_io.hpp"

#include "web/pages.hpp"

namespace invited::api {

http::Response page_response(int status, std::string html) {
  http::Response response;
  response.status = status;
  response.content_type = "text/html; charset=utf-8";
  response.body = std::move(html);
  response.headers = web::page_headers();
  return response;
}

}  // namespace invited::api
