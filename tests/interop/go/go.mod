module divan/interop

go 1.21

require github.com/couchbase/gocb/v2 v2.11.1
