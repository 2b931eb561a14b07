/* placeholder until the layer lands */
typedef int dv_mcbp_placeholder;
