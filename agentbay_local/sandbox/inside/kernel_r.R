# The R kernel: one persistent R process of a session running cells in its global
# environment, so what a cell defines is there in the next.
#
# The tool server (kernels.py) runs this file's source with the session's `Rscript -e` and
# speaks the protocol of kernel_python.py, except that a cell arrives as one line of hex
# (its UTF-8 bytes: base R reads no JSON). Output goes to fd 1 and 2, events as JSON lines
# to fd 3. Visible values of a cell are printed, as R's console does; the last one is the
# main result instead. SIGINT (the tool server's time limit) interrupts the running cell.
local({
  events <- file("/proc/self/fd/3", open = "w", encoding = "UTF-8", raw = TRUE)
  commands <- file("stdin", open = "r")
  count <- 0L

  quote_json <- function(text) {
    text <- enc2utf8(paste(text, collapse = "\n"))
    for (pair in list(c("\\", "\\\\"), c("\"", "\\\""), c("\n", "\\n"), c("\r", "\\r"),
                      c("\t", "\\t"))) {
      text <- gsub(pair[1], pair[2], text, fixed = TRUE)
    }
    text <- gsub("[\001-\037]", " ", text, perl = TRUE)
    paste0("\"", text, "\"")
  }
  send <- function(json) {
    flush(stdout())
    flush(stderr())
    writeLines(json, events, useBytes = TRUE)
    flush(events)
  }
  send_error <- function(name, value, trace) {
    send(paste0("{\"error\": {\"name\": ", quote_json(name), ", \"value\": ",
                quote_json(value), ", \"traceback\": ", quote_json(trace), "}}"))
  }
  from_hex <- function(hex) {
    if (nchar(hex) == 0) return("")
    starts <- seq(1, nchar(hex), by = 2)
    bytes <- as.raw(strtoi(substring(hex, starts, starts + 1), 16L))
    text <- rawToChar(bytes)
    Encoding(text) <- "UTF-8"
    text
  }
  # Plots go to PNG files (cairo: no display needed); after each cell the pages drawn are
  # sent as results (hex: base R has no base64; the tool server re-encodes them).
  plots <- file.path(tempdir(), "agentbay-plot-%03d.png")
  open_device <- function() {
    grDevices::png(plots, width = 640, height = 480, type = "cairo")
    grDevices::dev.control("enable")
  }
  send_plots <- function() {
    if (grDevices::dev.cur() > 1L) grDevices::dev.off()
    pages <- list.files(dirname(plots), "^agentbay-plot-[0-9]+[.]png$", full.names = TRUE)
    for (page in sort(pages)) {
      bytes <- readBin(page, "raw", file.size(page))
      unlink(page)
      if (length(bytes) == 0L) next
      send(paste0("{\"result\": {\"text/plain\": \"<plot>\", \"image/png;hex\": \"",
                  paste(as.character(bytes), collapse = ""), "\"}, \"main\": false}"))
    }
    open_device()
  }
  has_png <- isTRUE(capabilities("cairo"))
  if (has_png) open_device()

  run <- function(code) {
    parsed <- tryCatch(parse(text = code, keep.source = FALSE), error = function(e) e)
    if (inherits(parsed, "error")) {
      send_error("SyntaxError", conditionMessage(parsed), conditionMessage(parsed))
      return(invisible())
    }
    total <- length(parsed)
    tryCatch(
      withCallingHandlers(
        for (i in seq_len(total)) {
          shown <- withVisible(eval(parsed[[i]], envir = globalenv()))
          if (!shown$visible) next
          if (i < total) {
            print(shown$value)
          } else {
            text <- paste(utils::capture.output(print(shown$value)), collapse = "\n")
            send(paste0("{\"result\": {\"text/plain\": ", quote_json(text),
                        "}, \"main\": true}"))
          }
        },
        warning = function(w) {
          message("Warning: ", conditionMessage(w))
          invokeRestart("muffleWarning")
        }
      ),
      interrupt = function(i) {
        send_error("KeyboardInterrupt", "interrupted", "interrupted")
      },
      error = function(e) {
        call <- paste(deparse(conditionCall(e)), collapse = " ")
        # A stop() at a cell's top level names this driver's eval: no call to show then.
        top <- length(call) == 0L || startsWith(call, "eval(parsed[[i]]") || call == "NULL"
        where <- if (top) ": " else paste0(" in ", call, " : ")
        send_error(class(e)[1], conditionMessage(e), paste0("Error", where, conditionMessage(e)))
      }
    )
  }

  send(paste0("{\"ready\": ", Sys.getpid(), "}"))
  repeat {
    line <- tryCatch(readLines(commands, n = 1L), interrupt = function(i) character(0))
    if (length(line) == 0L) break
    count <- count + 1L
    tryCatch(run(from_hex(line)), interrupt = function(i) NULL)
    if (has_png) tryCatch(send_plots(), error = function(e) NULL)
    send(paste0("{\"done\": ", count, "}"))
  }
})
