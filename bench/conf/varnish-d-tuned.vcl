vcl 4.1;
# Varnish for workload D, tuned: 1 s timeouts, probed every second.
import std;

backend origin {
    .host = "127.0.0.1";
    .port = "18000";
    .connect_timeout = 1s;
    .first_byte_timeout = 1s;
    .between_bytes_timeout = 1s;
    .probe = { .url = "/healthz"; .interval = 1s; .timeout = 500ms; .window = 3; .threshold = 2; }
}

sub vcl_backend_response {
    set beresp.grace = 24h;
}

sub vcl_backend_error {
    set beresp.http.Content-Type = "text/html; charset=utf-8";
    set beresp.http.Cache-Control = "no-store";
    set beresp.status = 503;
    synthetic(std.fileread("@DIR@/www/outage.html"));
    return (deliver);
}
