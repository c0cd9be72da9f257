package main

const instructions = `Keys are case sensitive.`

const getDescription = "Read the value stored under a key"
