# Ruby's Dalli 3.0 (Debian ruby-dalli; it speaks only the binary protocol)
# against a server on 127.0.0.1:PORT. Called by test_binary.py; prints
# "dalli ok" and exits 0 when every check passed, else the first failure.
#   ruby dalli_check.rb PORT
require "dalli"

port = ARGV[0] or abort("usage: dalli_check.rb PORT")
dc = Dalli::Client.new("127.0.0.1:#{port}", socket_timeout: 5,
                       socket_max_failures: 1, down_retry_delay: 0)

def want(what, got, expected)
  return if got == expected
  puts "FAIL #{what}: expected #{expected.inspect}, got #{got.inspect}"
  exit 1
end

want "flush", dc.flush.all? { |r| r }, true
want "set", dc.set("k", "v", 0, raw: true).is_a?(Integer), true
want "get", dc.get("k"), "v"
want "get miss", dc.get("nokey"), nil
want "set obj", dc.set("obj", { "a" => [1, 2] }).is_a?(Integer), true
want "get obj", dc.get("obj"), { "a" => [1, 2] }
want "add exists", dc.add("k", "x"), false
want "add", dc.add("k2", "x", 0, raw: true).is_a?(Integer), true
want "replace", dc.replace("k2", "y", 0, raw: true).is_a?(Integer), true
# Dalli 3.0.6 answers a replace of a missing key with 0 (the error's CAS)
want "replace miss", [0, false, nil].include?(dc.replace("nokey", "y")), true
want "replace miss stored nothing", dc.get("nokey"), nil
want "append", dc.append("k2", "z"), true
want "prepend", dc.prepend("k2", "a"), true
want "after append/prepend", dc.get("k2"), "ayz"
want "incr create", dc.incr("cnt", 1, nil, 10), 10
want "incr", dc.incr("cnt", 5), 15
want "decr", dc.decr("cnt", 20), 0
want "incr miss", dc.incr("nocnt", 1), nil
value, cas = dc.get_cas("k2")
want "get_cas", value, "ayz"
want "set_cas", dc.set_cas("k2", "new", cas, 0, raw: true).is_a?(Integer), true
want "set_cas stale", dc.set_cas("k2", "newer", cas, 0, raw: true), false
want "cas block", dc.cas("k2", 0, raw: true) { |v| v + "!" }.is_a?(Integer), true
want "after cas", dc.get("k2"), "new!"
want "touch", dc.touch("k2", 100), true
want "touch miss", dc.touch("nokey", 100), nil
want "gat", dc.gat("k2", 100), "new!"
dc.set("m1", "1", 0, raw: true)
dc.set("m2", "2", 0, raw: true)
want "get_multi", dc.get_multi("m1", "m2", "m3"), { "m1" => "1", "m2" => "2" }
want "fetch", dc.fetch("f") { "computed" }, "computed"
want "fetch cached", dc.get("f"), "computed"
want "delete", dc.delete("m1"), true
want "delete miss", dc.delete("m1") ? true : false, false
want "delete_cas stale", dc.delete_cas("k2", 1), false
stats = dc.stats
want "stats", stats.values.first.key?("curr_items"), true
want "stats items", dc.stats(:items).values.first.is_a?(Hash), true
want "version", dc.version.values.first.start_with?("1."), true
want "flush all", dc.flush.all? { |r| r }, true
want "after flush", dc.get("k"), nil
dc.close
puts "dalli ok"
