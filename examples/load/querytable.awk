#!/usr/bin/awk -f
# Turns the output of BenchmarkQuery (go test -bench BenchmarkQuery ...) into one
# Markdown table row per benchmark line: µs/op and rt/op of each variant, and the
# tenancy/raw ratios (raw time / tenancy time: 1.0 is as fast as raw). With
# -count N, each line is a row of its own; read the spread.
#
#   go test -run '^$' -bench BenchmarkQuery -benchtime 2000x . | awk -f examples/load/querytable.awk
BEGIN {
	nv = split("raw-pq tenancy-pq tenancy-pq-affinity raw-pgx tenancy-pgx tenancypgx", V, " ")
	printf "| benchmark | ping µs |"
	for (i = 1; i <= nv; i++) printf " %s µs (rt) |", V[i]
	print " tenancy-pq/raw-pq | affinity/raw-pq | tenancy-pgx/raw-pgx | tenancypgx/raw-pgx |"
	printf "|---|---|"
	for (i = 1; i <= nv + 4; i++) printf "---|"
	print ""
}
/^BenchmarkQuery\// {
	name = $1; sub(/^BenchmarkQuery\//, "", name); sub(/-[0-9]+$/, "", name)
	delete m
	for (i = 3; i < NF; i += 2) m[$(i + 1)] = $i
	printf "| %s | %s |", name, m["ping-µs"]
	for (i = 1; i <= nv; i++) {
		v = V[i]
		if ((v "-µs/op") in m) printf " %.0f (%.3g) |", m[v "-µs/op"], m[v "-rt/op"]
		else printf " – |"
	}
	split("tenancy-pq/raw-pq tenancy-pq-affinity/raw-pq tenancy-pgx/raw-pgx tenancypgx/raw-pgx", R, " ")
	for (i = 1; i <= 4; i++) printf " %s |", ((R[i] in m) ? sprintf("%.2f", m[R[i]]) : "–")
	print ""
}
