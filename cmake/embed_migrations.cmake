# Writes OUTPUT: a C++ file defining invited::store::<FUNCTION>() over the .sql files in DIR,
# ordered by their NNNN_ version prefix. Run at build time so editing a .sql file rebuilds.
file(GLOB sql_files "${DIR}/*.sql")
list(SORT sql_files)
set(body "")
foreach(path IN LISTS sql_files)
  get_filename_component(name "${path}" NAME_WE)
  string(REGEX MATCH "^[0-9]+" version "${name}")
  math(EXPR version "${version}")
  file(READ "${path}" sql)
  string(APPEND body "    {${version}, \"${name}\", R\"invited_sql(${sql})invited_sql\"},\n")
endforeach()
set(content "// Generated from ${DIR} by cmake/embed_migrations.cmake. Do not edit.
#include \"store/migrations.hpp\"

namespace invited::store {

std::span<const Migration> ${FUNCTION}() {
  static constexpr Migration kMigrations[] = {
${body}  };
  return kMigrations;
}

}  // namespace invited::store
")
file(WRITE "${OUTPUT}.tmp" "${content}")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
