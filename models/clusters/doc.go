// Package clusters groups hosts by their traffic: a hosts × features table in,
// k clusters out, each described in words ("heavy downloaders", "servers on
// 53/udp"). The nightly run uses it to sort thousands of hosts into a handful
// of behaviours worth reading about.
//
// The pipeline is a Scaler (log1p on skewed columns, then z-scores), k-means
// with k-means++ seeding and several restarts, k chosen by the mean
// silhouette unless fixed, and Describe, which reads each centroid against the
// overall distribution. Model ties the steps together; Scaler, KMeans and
// Silhouette can be used on their own.
//
// Results are reproducible: every random draw comes from the Src field of
// KMeans, empty clusters are refilled without randomness, and clusters are
// numbered by size (ties by centroid), so the same table and seed give the
// same clusters byte for byte. Reordering the rows changes which rows the
// seeding draws; where the data have a clear best partition the same
// clusters come out, with the same numbers.
//
// Why k-means of our own on gonum: no maintained Go k-means offers seeded
// k-means++. gonum has none (a cluster package is an open pull request,
// gonum/gonum#2111, whose review asks for k-means++ and a caller-supplied
// random source); muesli/kmeans starts from uniform random centroids drawn
// from the global generator seeded with the clock; soniakeys/cluster has
// k-means++ but draws from math/rand's global generator. The algorithm is
// short, and owning it lets us pin the random source, the restarts and the
// handling of empty clusters. It follows scikit-learn's KMeans (greedy
// k-means++, Lloyd iterations, tolerance relative to the mean column
// variance), and the tests check it against scikit-learn.
package clusters
