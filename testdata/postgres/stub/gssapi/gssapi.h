/* Only pointers are stored in the structs pg_offsets.c reads before these fields; the
 * MIT krb5 types are pointers too, so the offsets printed do not depend on this stub. */
typedef void *gss_ctx_id_t;
typedef void *gss_name_t;
typedef void *gss_cred_id_t;
typedef struct { unsigned long length; void *value; } gss_buffer_desc;
