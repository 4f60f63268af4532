vcl 4.1;
# Varnish for workloads A–C: a cache with a day of grace (stale copies
# while the origin fails). Socket "pass" passes every request (B).
import std;

backend origin {
    .host = "127.0.0.1";
    .port = "18000";
    .probe = { .url = "/healthz"; .interval = 1s; .timeout = 500ms; .window = 3; .threshold = 2; }
}

sub vcl_recv {
    if (local.socket == "pass") {
        return (pass);
    }
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
