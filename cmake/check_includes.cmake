# cmake -DFILES=a;b -DFORBIDDEN=regex -DWHAT=name -DSTAMP=file -P check_includes.cmake
# Fails, naming each file and line, when an #include of FILES matches FORBIDDEN; otherwise
# touches STAMP (cmake/layering.cmake runs it before the library compiles).
set(found "")
foreach(file IN LISTS FILES)
  file(STRINGS ${file} lines REGEX "^[ \t]*#[ \t]*include")
  foreach(line IN LISTS lines)
    if(line MATCHES "${FORBIDDEN}")
      string(APPEND found "\n  ${file}: ${line}")
    endif()
  endforeach()
endforeach()
if(found)
  message(FATAL_ERROR "${WHAT} may not include these (cmake/layering.cmake says why):${found}")
endif()
if(STAMP)
  file(TOUCH ${STAMP})
endif()
